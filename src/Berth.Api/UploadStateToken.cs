using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Berth.Storage;

namespace Berth.Api;

/// <summary>
/// The <c>_state</c> query parameter of an upload's <c>Location</c>: repository, upload id,
/// offset and start time, signed with HMAC-SHA256 under <c>http.secret</c>. It lets any replica
/// that shares the secret check that a client continues an upload it was given, without shared
/// memory; the offset itself is always re-read from storage. An upload that has received nothing
/// exists only in this state (see <see cref="UploadStore"/>).
/// </summary>
public sealed class UploadStateToken(byte[] secret)
{
    private sealed record Payload(string Name, string Id, long Offset, long StartedAt);

    public string Create(string name, string id, long offset, DateTimeOffset startedAt)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(name, id, offset, startedAt.ToUnixTimeMilliseconds()));
        return Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(secret, payload));
    }

    /// <summary>
    /// What <paramref name="token"/> vouches for when it was signed here for this repository and upload; null
    /// when it was not.
    /// </summary>
    public UploadVoucher? Verify(string token, string name, string id)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || token.Length > 4096)
        {
            return null;
        }

        try
        {
            var payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            var signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
            if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(secret, payload)))
            {
                return null;
            }

            var state = JsonSerializer.Deserialize<Payload>(payload);
            return state is not null && state.Name == name && state.Id == id
                ? new UploadVoucher(DateTimeOffset.FromUnixTimeMilliseconds(state.StartedAt), state.Offset)
                : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>A random secret for a single process, used when <c>http.secret</c> is not configured.</summary>
    public static byte[] RandomSecret() => RandomNumberGenerator.GetBytes(32);

    public static byte[] SecretFromText(string text) => Encoding.UTF8.GetBytes(text);
}
