using System.Text.Json;
using Berth.Core.Errors;
using Microsoft.AspNetCore.Http;

namespace Berth.Api;

/// <summary>Writes the OCI error body <c>{"errors":[{code,message,detail}]}</c>.</summary>
public static class ErrorResponses
{
    public static async Task WriteAsync(HttpContext context, ErrorCode code, string message, object? detail,
        IReadOnlyDictionary<string, string>? headers = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            // Headers are gone already; the client sees a truncated body and must retry.
            context.Abort();
            return;
        }

        response.Clear();
        response.Headers[RegistryHeaders.ApiVersion] = RegistryHeaders.ApiVersionValue;
        response.StatusCode = code.Status;
        if (headers is not null)
        {
            foreach (var (key, value) in headers)
            {
                response.Headers[key] = value;
            }
        }

        var body = Serialize(code, message, detail);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    public static byte[] Serialize(ErrorCode code, string message, object? detail)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonBodies.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("errors");
            writer.WriteStartObject();
            writer.WriteString("code", code.Code);
            writer.WriteString("message", message);
            writer.WritePropertyName("detail");
            if (detail is null)
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            else
            {
                JsonSerializer.Serialize(writer, detail, detail.GetType());
            }

            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
