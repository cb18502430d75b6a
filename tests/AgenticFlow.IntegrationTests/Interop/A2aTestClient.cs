using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>An A2A client written for the tests from the specification: it reads an agent card, calls the JSON-RPC
/// endpoint the card names, and reads a stream's Server-Sent Events.</summary>
public sealed class A2aTestClient(HttpClient http, string apiKey)
{
    public async Task<(HttpStatusCode Status, JsonElement Card)> CardAsync(string cardUrl, string? version = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, cardUrl);
        request.Headers.Add("X-Api-Key", apiKey);
        if (version is not null)
        {
            request.Headers.Add("A2A-Version", version);
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    /// <summary>The endpoint a card names: 1.0's first JSON-RPC interface, or 0.3's url.</summary>
    public static string Endpoint(JsonElement card) =>
        card.TryGetProperty("supportedInterfaces", out var interfaces)
            ? interfaces.EnumerateArray().First(i => i.GetProperty("protocolBinding").GetString() == "JSONRPC").GetProperty("url").GetString()!
            : card.GetProperty("url").GetString()!;

    public async Task<(HttpStatusCode Status, JsonElement Answer)> CallAsync(string endpoint, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Api-Key", apiKey);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    public Task<(HttpStatusCode Status, JsonElement Answer)> CallAsync(string endpoint, string method, object parameters, object? id = null) =>
        CallAsync(endpoint, JsonSerializer.Serialize(new { jsonrpc = "2.0", id = id ?? 1, method, @params = parameters }));

    /// <summary>Calls a streaming method and reads every event until the server ends the stream.</summary>
    public async Task<List<JsonElement>> StreamAsync(string endpoint, string method, object parameters)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = JsonContent.Create(new { jsonrpc = "2.0", id = "s-1", method, @params = parameters }) };
        request.Headers.Add("X-Api-Key", apiKey);
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<JsonElement>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var data = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(line[5..].TrimStart());
            }
            else if (line.Length == 0 && data.Length > 0)
            {
                events.Add(JsonDocument.Parse(data.ToString()).RootElement.Clone());
                data.Clear();
            }
        }
        return events;
    }
}
