using BenchmarkDotNet.Attributes;
using Berth.Api;

namespace Berth.Benchmarks;

/// <summary><see cref="RegistryRoute.Parse"/>: runs for every <c>/v2</c> request.</summary>
[MemoryDiagnoser]
public class RouteBenchmarks
{
    public static IEnumerable<string> Paths =>
    [
        "/library/ubuntu/manifests/22.04",
        "/team/group/app/blobs/sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "/team/app/blobs/uploads/0b6e1a4e-8d7a-4f5e-9d55-3a7c1e0b9c11",
        "/team/app/blobs/uploads/",
        "/a/b/c/d/tags/list",
        "/_catalog",
        "/team/app/unknown/thing",
    ];

    [ParamsSource(nameof(Paths))]
    public string Path { get; set; } = "";

    [Benchmark]
    public RegistryRoute Parse() => RegistryRoute.Parse(Path);
}
