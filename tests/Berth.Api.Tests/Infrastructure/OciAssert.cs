using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>Assertions on registry responses, with the response body in every failure message.</summary>
public static partial class OciAssert
{
    public const string ApiVersionHeader = "Docker-Distribution-API-Version";
    public const string ApiVersion = "registry/2.0";

    /// <summary>The error codes of the distribution spec's table (code-1 .. code-14).</summary>
    public static readonly IReadOnlySet<string> SpecErrorCodes = new HashSet<string>(StringComparer.Ordinal)
    {
        "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
        "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
    };

    public static async Task StatusAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            throw new XunitException(
                $"Expected {(int)expected} {expected} but got {(int)response.StatusCode} {response.StatusCode} for " +
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}\nBody: {await BodyTextAsync(response)}");
        }
    }

    /// <summary>Asserts <c>Docker-Distribution-API-Version: registry/2.0</c>.</summary>
    public static void HasApiVersion(HttpResponseMessage response) =>
        Assert.Equal(ApiVersion, response.Header(ApiVersionHeader));

    /// <summary>
    /// Asserts an error response: the status, the API version header and, except for HEAD, a JSON
    /// body <c>{"errors":[{"code":...,"message":...}]}</c> whose codes include <paramref name="code"/>.
    /// Returns the error objects.
    /// </summary>
    public static async Task<IReadOnlyList<JsonElement>> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        await StatusAsync(response, status);
        HasApiVersion(response);
        if (response.RequestMessage?.Method == HttpMethod.Head)
        {
            return [];
        }

        var errors = await ErrorBodyAsync(response);
        var codes = errors.Select(e => e.GetProperty("code").GetString()).ToList();
        Assert.True(codes.Contains(code), $"Expected error code {code} but got [{string.Join(", ", codes)}]");
        return errors;
    }

    /// <summary>Asserts the body is an OCI error body and returns its error objects.</summary>
    public static async Task<IReadOnlyList<JsonElement>> ErrorBodyAsync(HttpResponseMessage response)
    {
        var text = await BodyTextAsync(response);
        var contentType = response.Content.Headers.ContentType?.MediaType;
        Assert.True(contentType == "application/json", $"error Content-Type is '{contentType}', body: {text}");
        return ParseErrorBody(text);
    }

    /// <summary>Parses and checks <c>{"errors":[{"code":"UPPER_CASE","message":"..."}]}</c>.</summary>
    public static IReadOnlyList<JsonElement> ParseErrorBody(string text)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new XunitException($"error body is not JSON ({ex.Message}): {text}");
        }

        Assert.True(root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errors", out var errors)
            && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0,
            $"error body has no non-empty 'errors' array: {text}");
        var list = root.GetProperty("errors").EnumerateArray().ToList();
        foreach (var error in list)
        {
            Assert.True(error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String
                && CodeGrammar().IsMatch(code.GetString()!), $"error without an upper-case 'code': {text}");
            Assert.True(!error.TryGetProperty("message", out var message) || message.ValueKind == JsonValueKind.String,
                $"error 'message' is not a string: {text}");
            Assert.True(error.TryGetProperty("message", out _), $"error without a 'message': {text}");
        }

        return list;
    }

    public static async Task<string> BodyTextAsync(HttpResponseMessage response)
    {
        try
        {
            return await response.Content.ReadAsStringAsync();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or ObjectDisposedException)
        {
            return $"<unreadable: {ex.Message}>";
        }
    }

    [GeneratedRegex("^[A-Z_]+$")]
    private static partial Regex CodeGrammar();
}
