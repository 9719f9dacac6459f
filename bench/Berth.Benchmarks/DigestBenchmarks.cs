using BenchmarkDotNet.Attributes;
using Berth.Core;

namespace Berth.Benchmarks;

/// <summary><see cref="Digest.Parse"/>: runs for every blob and manifest-by-digest request.</summary>
[MemoryDiagnoser]
public class DigestBenchmarks
{
    private const string Sha256 = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";
    private const string Sha512 = "sha512:" + "0e1e21ecf105ec853d24d728867ad70613c21663a4693074b2a3619c1bd39d66b588c33723bb466c72424e80e3ca63c249078ab347bab9428500e7ee43059d0d";
    private const string Uppercase = "sha256:6C3C624B58DBBCD3C0DD82B4C53F04194D1247C6EEBDAAB7C610CF7D66709B3B";

    [Benchmark(Baseline = true)]
    public Digest ParseSha256() => Digest.Parse(Sha256);

    [Benchmark]
    public Digest ParseSha512() => Digest.Parse(Sha512);

    [Benchmark]
    public bool TryParseInvalid() => Digest.TryParse(Uppercase, out _);

    [Benchmark]
    public string ParseAndFormat() => Digest.Parse(Sha256).ToString();
}
