using System.Text;
using Berth.Ui.Browsing;

namespace Berth.Ui.Tests;

public sealed class ImageConfigTests
{
    private const string Oci = """
        {
          "created": "2026-03-04T05:06:07.123456789Z",
          "author": "Berth <berth@example.com>",
          "architecture": "arm64",
          "variant": "v8",
          "os": "linux",
          "config": {
            "User": "1000:1000",
            "ExposedPorts": { "8080/tcp": {}, "53/udp": {} },
            "Env": [ "PATH=/usr/bin", "LANG=C.UTF-8" ],
            "Entrypoint": [ "/bin/app", "--serve" ],
            "Cmd": [ "--port", "8080" ],
            "WorkingDir": "/srv",
            "Labels": { "org.opencontainers.image.title": "app", "hostile": "<script>alert(1)</script>", "number": 42 }
          },
          "rootfs": { "type": "layers", "diff_ids": [ "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" ] },
          "history": [
            { "created": "2026-03-04T05:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in /" },
            { "created": "2026-03-04T05:06:07Z", "created_by": "ENV LANG=C.UTF-8", "empty_layer": true },
            { "comment": "buildkit.dockerfile.v0" },
            "not an object"
          ]
        }
        """;

    private const string Docker = """
        {
          "architecture": "amd64",
          "os": "linux",
          "created": "2025-11-30T23:59:59Z",
          "docker_version": "24.0.7",
          "container_config": { "Cmd": [ "ignored" ] },
          "config": {
            "Hostname": "",
            "Env": [ "PATH=/usr/local/sbin:/usr/local/bin" ],
            "Cmd": [ "nginx", "-g", "daemon off;" ],
            "Entrypoint": null,
            "Labels": null,
            "StopSignal": "SIGQUIT"
          },
          "rootfs": { "type": "layers", "diff_ids": [] }
        }
        """;

    [Fact]
    public void TryParse_OciConfig_ReadsEveryField()
    {
        var config = ImageConfig.TryParse(Encoding.UTF8.GetBytes(Oci));

        Assert.NotNull(config);
        Assert.Equal("linux", config.Os);
        Assert.Equal("arm64", config.Architecture);
        Assert.Equal("v8", config.Variant);
        Assert.Equal(new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero), config.Created!.Value.AddTicks(-(config.Created.Value.Ticks % TimeSpan.TicksPerSecond)));
        Assert.Equal("Berth <berth@example.com>", config.Author);
        Assert.Equal(["/bin/app", "--serve"], config.Entrypoint);
        Assert.Equal(["--port", "8080"], config.Command);
        Assert.Equal(["PATH=/usr/bin", "LANG=C.UTF-8"], config.Environment);
        Assert.Equal("/srv", config.WorkingDirectory);
        Assert.Equal("1000:1000", config.User);
        Assert.Equal(["8080/tcp", "53/udp"], config.ExposedPorts);
        Assert.Equal("<script>alert(1)</script>", config.Labels["hostile"]);
        Assert.Equal("app", config.Labels["org.opencontainers.image.title"]);
        Assert.Equal("42", config.Labels["number"]);
        Assert.Equal(3, config.History.Count);
        Assert.Equal("/bin/sh -c #(nop) ADD file:abc in /", config.History[0].CreatedBy);
        Assert.False(config.History[0].EmptyLayer);
        Assert.True(config.History[1].EmptyLayer);
        Assert.Null(config.History[2].Created);
        Assert.Equal("buildkit.dockerfile.v0", config.History[2].Comment);
    }

    [Fact]
    public void TryParse_DockerConfig_ReadsTheSharedFieldsAndToleratesNulls()
    {
        var config = ImageConfig.TryParse(Encoding.UTF8.GetBytes(Docker));

        Assert.NotNull(config);
        Assert.Equal("amd64", config.Architecture);
        Assert.Null(config.Variant);
        Assert.Equal(new DateTimeOffset(2025, 11, 30, 23, 59, 59, TimeSpan.Zero), config.Created);
        Assert.Equal(["nginx", "-g", "daemon off;"], config.Command);
        Assert.Empty(config.Entrypoint);
        Assert.Empty(config.Labels);
        Assert.Empty(config.ExposedPorts);
        Assert.Empty(config.History);
        Assert.Null(config.WorkingDirectory);
    }

    [Fact]
    public void TryParse_ArtifactEmptyConfig_IsAnEmptyConfig()
    {
        var config = ImageConfig.TryParse("{}"u8);

        Assert.NotNull(config);
        Assert.Null(config.Os);
        Assert.Empty(config.Entrypoint);
        Assert.Empty(config.History);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"os\":\"linux\"}]")]
    [InlineData("\"linux\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void TryParse_NonObjectJson_IsNull(string json)
    {
        Assert.Null(ImageConfig.TryParse(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("{\"os\":")]
    [InlineData("{\"os\":\"linux\"} trailing")]
    [InlineData("\u0000\u0001\u0002")]
    public void TryParse_Garbage_IsNull(string text)
    {
        Assert.Null(ImageConfig.TryParse(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void TryParse_InvalidUtf8_IsNull()
    {
        Assert.Null(ImageConfig.TryParse(new byte[] { 0xff, 0xfe, 0x7b, 0x7d }));
    }

    [Fact]
    public void TryParse_BinaryBlob_IsNull()
    {
        var gzip = new byte[] { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03 };

        Assert.Null(ImageConfig.TryParse(gzip));
    }

    [Fact]
    public void TryParse_NestedTooDeep_IsNull()
    {
        var json = "{\"config\":" + new string('[', 200) + new string(']', 200) + "}";

        Assert.Null(ImageConfig.TryParse(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void TryParse_FieldsOfTheWrongType_AreLeftOut()
    {
        var config = ImageConfig.TryParse("""
            {"os": 1, "architecture": ["amd64"], "created": "yesterday", "config": {"Entrypoint": "/bin/sh", "Env": [1, "A=b", null],
             "ExposedPorts": ["80/tcp"], "Labels": ["x"]}, "history": {"created_by": "x"}}
            """u8);

        Assert.NotNull(config);
        Assert.Null(config.Os);
        Assert.Null(config.Architecture);
        Assert.Null(config.Created);
        Assert.Empty(config.Entrypoint);
        Assert.Equal(["A=b"], config.Environment);
        Assert.Empty(config.ExposedPorts);
        Assert.Empty(config.Labels);
        Assert.Empty(config.History);
    }
}
