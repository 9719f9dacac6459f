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
          report        --results FILE.tsv [--out FILE.md]
          s3-delete-prefix --endpoint U --bucket B --prefix P [--region us-east-1] [--timeout 300]
                        (keys from S3_ACCESS_KEY / S3_SECRET_KEY)
          azure-put     --service-url U --container C --blob B --file F [--salt S] [--block-mib 8] [--concurrency 1]
          azure-get     --service-url U --container C --blob B
          azure-delete  --service-url U --container C (--prefix P | --container-too true)
                        (account devstoreaccount1 unless --account; key from AZURE_STORAGE_KEY, else Azurite's)
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
        "report" => ReportCommand.Run(options),
        "s3-delete-prefix" => await S3Commands.DeletePrefixAsync(options),
        "azure-put" => await AzureCommands.PutAsync(options),
        "azure-get" => await AzureCommands.GetAsync(options),
        "azure-delete" => await AzureCommands.DeleteAsync(options),
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
