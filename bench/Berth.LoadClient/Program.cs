using Berth.LoadClient;

// berth-load VERB [--option value]...; every verb prints one line of key=value pairs (or a table
// for `report`) and exits non-zero on any failed request, so bench/run.sh can trust its figures.
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("""
        usage: berth-load VERB [--option value]...
          load          --url U [--method GET|HEAD] [--header 'K: V']... [--connections 64] [--duration 10]
                        [--warmup 1] [--max-requests N] [--timeout 30]
          push-blob     --registry U --repo R --file F [--chunk-bytes N] [--salt S] [--timeout 600]
          push-raw      --url U --file F [--salt S] [--timeout 600]
          push-images   --registry U --repo R --count 500 --concurrency 16 [--salt S] [--tag-prefix t] [--timeout 600]
          populate-tags --registry U --repo R --count 5000 [--concurrency 16] [--timeout 600]
          populate-repos --registry U --prefix P --from R --count 1000 [--concurrency 16] [--timeout 600]
          list          --url U [--repeat 10] [--max-seconds 60] [--expect-items N]
          sink          --listen 127.0.0.1:PORT --dir D [--buffer-kib 128] [--max-seconds 3600]   (PUT /full, /serial, /hash, /discard)
          static-file   --listen 127.0.0.1:PORT --file F [--max-seconds 3600]   (bare Kestrel: the framework's GET ceiling)
          report        --results FILE.tsv [--out FILE.md] [--tsv-out FILE.tsv]   (tsv-out: the rows plus the table's medians)
          slow-uploads  --registry U [--repo bench/slow] [--count 1000] [--pid SERVER_PID] [--tick-bytes 8] [--tick-ms 1000]
                        [--hold-seconds 30] [--settle-seconds 3]
          s3-delete-prefix --endpoint U --bucket B --prefix P [--region us-east-1] [--timeout 300]
                        (keys from S3_ACCESS_KEY / S3_SECRET_KEY)
          s3-put        --endpoint U --bucket B --key K --file F [--part-bytes 10485760] [--concurrency 1] [--region us-east-1]
          s3-get        --endpoint U --bucket B --key K [--region us-east-1]   (the store's ceiling: the AWS SDK, no registry)
          azure-put     --service-url U --container C --blob B --file F [--salt S] [--block-mib 8] [--concurrency 1]
          azure-get     --service-url U --container C --blob B
          azure-delete  --service-url U --container C (--prefix P | --container-too true)
                        (account devstoreaccount1 unless --account; key from AZURE_STORAGE_KEY, else Azurite's)
          flame-graph   --in PROFILE(.speedscope.json | perf script text) --out F.svg [--title T] [--drop REGEX]
                        [--keep REGEX] [--min-percent 0.1] [--top 25]
          gc-fill       (--root DIR | --endpoint U --bucket B --prefix P) --blobs N [--images-per-repo 100]
                        [--concurrency 32] [--pull-list FILE] [--pull-images 200] [--timeout 3000]
          gc-count      (--root DIR | --endpoint U --bucket B --prefix P) --blobs N [--images-per-repo 100]
          gc-pull       --registry U --list FILE --stop-file F [--rate 50] [--concurrency 2] [--max-seconds 3600]
          fill-layout   (--dir D | --s3-endpoint U --bucket B --prefix P) [--repos-from 0 --repos-to N] [--repo-prefix cat/r]
                        [--tags-from 0 --tags-to N] [--tag-repo bench/tags] [--blobs true] [--concurrency 8] [--timeout 3000]
          list-curve    --url U [--repeat 5] [--max-seconds 60] [--walk-timeout 300] [--expect-items N]
          curve-report  --results FILE.tsv --out FILE.md
        """);
    return 2;
}

var options = CommandOptions.Parse(args.AsSpan(1));
try
{
    return args[0] switch
    {
        "load" => await LoadCommand.RunAsync(options),
        "push-blob" => await PushCommands.PushBlobAsync(options),
        "push-raw" => await PushCommands.PushRawAsync(options),
        "push-images" => await ImageCommands.PushImagesAsync(options),
        "populate-tags" => await ImageCommands.PopulateTagsAsync(options),
        "populate-repos" => await ImageCommands.PopulateReposAsync(options),
        "list" => await ListCommand.RunAsync(options),
        "sink" => SinkCommand.Run(options),
        "static-file" => await StaticFileCommand.RunAsync(options),
        "report" => ReportCommand.Run(options),
        "slow-uploads" => await SlowUploads.RunAsync(options),
        "s3-delete-prefix" => await S3Commands.DeletePrefixAsync(options),
        "s3-put" => await S3Ceiling.PutAsync(options),
        "s3-get" => await S3Ceiling.GetAsync(options),
        "azure-put" => await AzureCommands.PutAsync(options),
        "azure-get" => await AzureCommands.GetAsync(options),
        "azure-delete" => await AzureCommands.DeleteAsync(options),
        "flame-graph" => FlameGraph.Run(options),
        "gc-fill" => await GcCommands.FillAsync(options),
        "gc-count" => await GcCommands.CountAsync(options),
        "gc-pull" => await GcCommands.PullAsync(options),
        "fill-layout" => await LayoutFill.RunAsync(options),
        "list-curve" => await CurveCommands.ListCurveAsync(options),
        "curve-report" => CurveCommands.CurveReport(options),
        _ => throw new ArgumentException($"unknown verb '{args[0]}'"),
    };
}
catch (Exception ex) when (ex is ArgumentException or BenchmarkException or HttpRequestException or IOException or OperationCanceledException
    or Amazon.Runtime.AmazonServiceException)
{
    Console.Error.WriteLine($"berth-load {args[0]}: {ex.Message}");
    return 1;
}
