using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AgenticFlow.Providers.Clients;

/// <summary>
/// The built-in development provider: answers without a network, the same way every time, so the platform
/// runs with no keys. Its answers say plainly that they come from the development provider.
/// </summary>
public sealed class LocalChatClient(string model) : IChatClient
{
    public const string Prefix = "[local development provider]";

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (text, input, output) = Answer(messages, options);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = options?.ModelId ?? model,
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (text, input, output) = Answer(messages, options);
        foreach (var word in text.Split(' '))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, word + " ") { ModelId = options?.ModelId ?? model };
            await Task.Yield();
        }
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            FinishReason = ChatFinishReason.Stop,
            Contents = [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output })],
        };
    }

    private static (string Text, long Input, long Output) Answer(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var list = messages.ToList();
        var last = list.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var words = last.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var text = $"{Prefix} You said {words.Length} word(s): \"{string.Join(' ', words.Take(24))}\".";
        if (options?.MaxOutputTokens is { } max && max > 0)
        {
            text = string.Join(' ', text.Split(' ').Take(Math.Max(1, max)));
        }
        return (text, TokenEstimate.Of(list), TokenEstimate.Of(text));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}

/// <summary>A token estimate (about four characters a token) for limits and budgets before a provider reports real usage.</summary>
public static class TokenEstimate
{
    public static long Of(string text) => Math.Max(1, (text.Length + 3) / 4);

    public static long Of(IEnumerable<ChatMessage> messages) => messages.Sum(m => Of(m.Text ?? "") + 4);
}
