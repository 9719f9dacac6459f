# Berth as a container image, a drop-in for registry:2: the same port (5000), volume (/var/lib/registry),
# configuration path (/etc/docker/registry/config.yml) and REGISTRY_* variables.
#
#   docker build -t berth .
#   docker run -d -p 5000:5000 --name registry berth
#   docker run --rm --entrypoint berth berth htpasswd -Bbn USER PASSWORD > auth/htpasswd
#
# Both base images are build arguments, so the image builds from a mirror or from images made offline:
#   docker build --build-arg SDK_IMAGE=mirror.example/dotnet/sdk:10.0 \
#                --build-arg RUNTIME_IMAGE=mirror.example/dotnet/runtime-deps:10.0 -t berth .
# SDK_IMAGE needs the .NET 10 SDK on PATH (`dotnet`) and access to a NuGet feed while it builds. RUNTIME_IMAGE
# needs only what a self-contained .NET application needs (glibc, libstdc++, OpenSSL 3, zlib; CA certificates for
# S3 over HTTPS); it needs no shell, because the runtime stage runs nothing while it is built.
#
# Only instructions the classic builder (DOCKER_BUILDKIT=0) understands too, for engines without buildx.

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# One COPY and one RUN: every layer of the SDK stage is a full copy of the SDK on storage drivers without
# copy-on-write (vfs), and the publish restores its packages anyway.
COPY . .
# /rootfs is laid out exactly as the runtime image's file system, so the runtime stage copies it in one step.
RUN dotnet publish src/Berth.Server/Berth.Server.csproj -c Release -r linux-x64 --self-contained \
        -o /rootfs/usr/local/lib/berth \
    && mkdir -p /rootfs/usr/local/bin /rootfs/etc/docker/registry /registry-data \
    && ln -s ../lib/berth/berth /rootfs/usr/local/bin/berth \
    && cp deploy/config-image.yml /rootfs/etc/docker/registry/config.yml

FROM ${RUNTIME_IMAGE}
COPY --from=build /rootfs/ /
# The storage root belongs to the user the registry runs as; 1654 is the "app" user of Microsoft's .NET images,
# and a numeric id needs no /etc/passwd entry in other base images.
COPY --from=build --chown=1654:1654 /registry-data/ /var/lib/registry/
USER 1654:1654
# Microsoft's .NET images set ASPNETCORE_HTTP_PORTS=8080; Berth listens where http.addr says, so clear it rather
# than have ASP.NET Core warn that it is overridden.
ENV ASPNETCORE_HTTP_PORTS=
EXPOSE 5000
VOLUME ["/var/lib/registry"]
# `berth healthcheck` reads the same configuration and REGISTRY_* variables as `serve` and asks the registry on
# loopback (GET /v2/, or /debug/health when http.debug.addr is set); a minimal image has no curl to do it.
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
    CMD ["berth", "healthcheck", "/etc/docker/registry/config.yml"]
ENTRYPOINT ["berth"]
CMD ["serve", "/etc/docker/registry/config.yml"]
