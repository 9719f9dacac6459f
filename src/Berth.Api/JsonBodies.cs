using System.Text.Encodings.Web;
using System.Text.Json;

namespace Berth.Api;

/// <summary>How the API writes its JSON bodies.</summary>
internal static class JsonBodies
{
    /// <summary>
    /// Media types carry a <c>+</c> (<c>application/vnd.oci.image.index.v1+json</c>), which the default encoder writes
    /// as <c>\u002B</c>: valid, but not what registry:2 or any other registry sends, and clients that compare bodies or
    /// log them are better served by the plain character. The bodies are <c>application/json</c>, never embedded in
    /// HTML, so HTML-sensitive characters need no escaping; quotes, backslashes and control characters still are.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
