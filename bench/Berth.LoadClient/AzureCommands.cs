using System.Diagnostics;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Berth.LoadClient;

/// <summary>
/// bench/azure.sh's direct Azure SDK figures: the same 1 GiB file uploaded to and downloaded from the same Blob service
/// (Azurite) without a registry in between, the store's own ceiling beside Berth's push and pull; and the clean-up of a
/// prefix between rounds. The account key comes from AZURE_STORAGE_KEY (not the command line, which <c>ps</c> shows);
/// without it, Azurite's published development key.
/// </summary>
internal static class AzureCommands
{
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>
    /// Uploads <c>--file</c> (salted like push-blob, so every round stores new bytes) as a block blob: blocks of
    /// <c>--block-mib</c>, <c>--concurrency</c> in flight (1: one after another, as one Berth writer stages them).
    /// </summary>
    public static async Task<int> PutAsync(CommandOptions options)
    {
        var blob = Container(options).GetBlobClient(options.Get("blob"));
        var path = options.Get("file");
        var salt = options.GetLong("salt", 0);
        var blockBytes = options.GetLong("block-mib", 8) * 1024 * 1024;
        var concurrency = options.GetInt("concurrency", 1);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 600));
        await using var file = new SaltedFileStream(path, salt);
        var start = Stopwatch.GetTimestamp();
        await blob.UploadAsync(file, new BlobUploadOptions
        {
            TransferOptions = new StorageTransferOptions
            {
                InitialTransferSize = blockBytes,
                MaximumTransferSize = blockBytes,
                MaximumConcurrency = concurrency,
            },
        }, cts.Token);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Output.Line(("bytes", file.Length), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(file.Length / seconds / 1e6, 1)));
        return 0;
    }

    /// <summary>Downloads the blob in one streamed GET (as Berth reads a blob it serves) and discards the bytes.</summary>
    public static async Task<int> GetAsync(CommandOptions options)
    {
        var blob = Container(options).GetBlobClient(options.Get("blob"));
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 600));
        var start = Stopwatch.GetTimestamp();
        using var result = (await blob.DownloadStreamingAsync(cancellationToken: cts.Token)).Value;
        var buffer = new byte[128 * 1024];
        long total = 0;
        int read;
        while ((read = await result.Content.ReadAsync(buffer, cts.Token)) > 0)
        {
            total += read;
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Output.Line(("bytes", total), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(total / seconds / 1e6, 1)));
        return 0;
    }

    /// <summary>Deletes every blob whose name starts with <c>--prefix</c> (or the whole container with <c>--container-too</c>).</summary>
    public static async Task<int> DeleteAsync(CommandOptions options)
    {
        var container = Container(options);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 300));
        if (options.Get("container-too", "false") == "true")
        {
            await container.DeleteIfExistsAsync(cancellationToken: cts.Token);
            Output.Line(("container", container.Name), ("deleted", 1));
            return 0;
        }

        var prefix = options.Get("prefix");
        var deleted = 0;
        await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cts.Token))
        {
            await container.DeleteBlobIfExistsAsync(item.Name, cancellationToken: cts.Token);
            deleted++;
        }

        Output.Line(("blobs", deleted));
        return 0;
    }

    private static BlobContainerClient Container(CommandOptions options)
    {
        var serviceUrl = new Uri(options.Get("service-url"));
        var key = Environment.GetEnvironmentVariable("AZURE_STORAGE_KEY") is { Length: > 0 } configured ? configured : DevelopmentKey;
        var account = options.Get("account", "devstoreaccount1");
        var service = new BlobServiceClient(serviceUrl, new StorageSharedKeyCredential(account, key));
        return service.GetBlobContainerClient(options.Get("container"));
    }

    /// <summary>A read-only file stream with push-blob's salt laid over its first eight bytes.</summary>
    private sealed class SaltedFileStream(string path, long salt) : FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var offset = Position;
            var read = await base.ReadAsync(buffer, cancellationToken);
            if (offset < sizeof(long) && read > 0)
            {
                Span<byte> saltBytes = stackalloc byte[sizeof(long)];
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(saltBytes, salt);
                var count = (int)Math.Min(sizeof(long) - offset, read);
                saltBytes.Slice((int)offset, count).CopyTo(buffer.Span);
            }

            return read;
        }
    }
}
