using System.Net;
using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.Bindings;

/// <summary>The output bindings building block, whatever the wire.</summary>
public sealed class BindingsApi(IReadOnlyDictionary<string, BindingComponent> bindings)
{
    public async Task<BindingResponse> InvokeAsync(string name, string operation, byte[] data, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        if (!bindings.TryGetValue(name, out var binding) || binding.Output is null)
        {
            throw DaprError.BindingNotFound(name);
        }
        try
        {
            return await binding.Output.InvokeAsync(operation, data, metadata, ct);
        }
        catch (Exception ex) when (ex is BindingException or FormatException or IOException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_INVOKE_OUTPUT_BINDING", $"error invoking output binding {name}: {ex.Message}");
        }
    }
}
