using System.Runtime.CompilerServices;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// With no arguments, run everything; otherwise BenchmarkDotNet's own options
// (--filter '*Digest*', --job short, --list flat). Reports go to bench/results/BenchmarkDotNet.Artifacts.
var config = DefaultConfig.Instance.WithArtifactsPath(ArtifactsPath());
BenchmarkSwitcher.FromAssembly(typeof(Berth.Benchmarks.DigestBenchmarks).Assembly)
    .Run(args.Length == 0 ? ["--filter", "*"] : args, config);

// The source directory is known at compile time; fall back to the working directory elsewhere.
static string ArtifactsPath([CallerFilePath] string source = "")
{
    var bench = Path.GetDirectoryName(Path.GetDirectoryName(source));
    return bench is not null && Directory.Exists(bench)
        ? Path.Combine(bench, "results", "BenchmarkDotNet.Artifacts")
        : Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
}
