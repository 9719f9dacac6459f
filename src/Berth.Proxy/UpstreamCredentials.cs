using System.Diagnostics;
using System.Text.Json;

namespace Berth.Proxy;

/// <summary>A user name and password (or identity token) for an upstream.</summary>
public sealed record UpstreamCredential(string Username, string Secret);

/// <summary>Where an upstream's credentials come from: nowhere, a fixed pair, or a Docker credential helper.</summary>
public abstract class UpstreamCredentials
{
    /// <summary>Anonymous access.</summary>
    public static readonly UpstreamCredentials None = new Fixed(null);

    /// <summary>The credentials the options describe.</summary>
    public static UpstreamCredentials For(UpstreamOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Exec is { } exec)
        {
            return new Helper(exec, time);
        }

        return string.IsNullOrEmpty(options.Username)
            ? None
            : new Fixed(new UpstreamCredential(options.Username, options.Password ?? ""));
    }

    /// <summary>The credentials to present to <paramref name="host"/>, or null for none.</summary>
    public abstract ValueTask<UpstreamCredential?> GetAsync(string host, CancellationToken cancellationToken);

    private sealed class Fixed(UpstreamCredential? credential) : UpstreamCredentials
    {
        public override ValueTask<UpstreamCredential?> GetAsync(string host, CancellationToken cancellationToken) => ValueTask.FromResult(credential);
    }

    /// <summary>
    /// Runs <c>COMMAND get</c> with the host on standard input and reads <c>{"Username": ..., "Secret": ...}</c>, the
    /// docker-credential-helpers protocol, as registry:2's <c>proxy.exec</c> does. The answer is reused for the
    /// configured lifetime (for ever when none is set, never when it is zero).
    /// </summary>
    private sealed class Helper(CredentialHelperOptions options, TimeProvider time) : UpstreamCredentials
    {
        private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(30);
        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly Dictionary<string, (UpstreamCredential Credential, DateTimeOffset? Expires)> _cached = new(StringComparer.OrdinalIgnoreCase);

        public override async ValueTask<UpstreamCredential?> GetAsync(string host, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                var now = time.GetUtcNow();
                if (_cached.TryGetValue(host, out var entry) && (entry.Expires is null || now < entry.Expires))
                {
                    return entry.Credential;
                }

                var credential = await RunAsync(host, cancellationToken);
                if (options.Lifetime != TimeSpan.Zero)
                {
                    _cached[host] = (credential, options.Lifetime is { } lifetime ? now + lifetime : null);
                }

                return credential;
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task<UpstreamCredential> RunAsync(string host, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo(options.Command, ["get"])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(HelperTimeout);
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("the process did not start");
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new UpstreamException(host, UpstreamFailure.Unauthorized, $"the credential helper '{options.Command}' cannot be run: {ex.Message}", inner: ex);
            }

            using (process)
            {
                try
                {
                    await process.StandardInput.WriteAsync(host);
                    process.StandardInput.Close();
                    var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
                    var error = process.StandardError.ReadToEndAsync(timeout.Token);
                    await process.WaitForExitAsync(timeout.Token);
                    if (process.ExitCode != 0)
                    {
                        var message = (await output).Trim() is { Length: > 0 } said ? said : (await error).Trim();
                        throw new UpstreamException(host, UpstreamFailure.Unauthorized,
                            $"the credential helper '{options.Command}' failed for {host} (exit {process.ExitCode}): {Shorten(message)}");
                    }

                    return Parse(await output, host);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new UpstreamException(host, UpstreamFailure.Unauthorized, $"the credential helper '{options.Command}' did not answer within {HelperTimeout.TotalSeconds} s");
                }
                finally
                {
                    // Timed out, or the request that needed it went away: the helper must not outlive the question.
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }
            }
        }

        private UpstreamCredential Parse(string output, string host)
        {
            try
            {
                using var document = JsonDocument.Parse(output);
                var root = document.RootElement;
                var username = root.TryGetProperty("Username", out var u) ? u.GetString() : null;
                var secret = root.TryGetProperty("Secret", out var s) ? s.GetString() : null;
                if (username is not null && secret is not null)
                {
                    return new UpstreamCredential(username, secret);
                }
            }
            catch (JsonException)
            {
            }

            throw new UpstreamException(host, UpstreamFailure.Unauthorized,
                $"the credential helper '{options.Command}' did not print {{\"Username\": ..., \"Secret\": ...}} for {host}");
        }

        private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";
    }
}
