namespace Berth.Core.Errors;

/// <summary>
/// A failure that the client caused or can act on. The HTTP layer turns it into the OCI error
/// body <c>{"errors":[{code,message,detail}]}</c> with the status of <see cref="Code"/>.
/// </summary>
public sealed class RegistryException : Exception
{
    public RegistryException(ErrorCode code, string? message = null, object? detail = null, Exception? inner = null)
        : base(message ?? code.Message, inner)
    {
        Code = code;
        Detail = detail;
    }

    public ErrorCode Code { get; }

    /// <summary>Machine-readable context for the error body's <c>detail</c> field (serialised as JSON).</summary>
    public object? Detail { get; }

    /// <summary>Extra response headers the error needs (for example <c>Range</c> on a 416).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
}
