using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Agents.Tests;

/// <summary>User-named URLs (MCP servers, A2A cards) reach public addresses only unless private ones are allowed.</summary>
public sealed class OutboundAddressesTests
{
    [Theory]
    [InlineData("http://127.0.0.1:9/mcp")]
    [InlineData("http://localhost:9/mcp")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    public async Task Handler_RefusesInwardAddresses_UnlessAllowed(string url)
    {
        using var client = new HttpClient(OutboundAddresses.Handler(false, "MCP server", "Agents:AllowPrivateEndpoints"));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url));
        Assert.Contains("resolves to no public address", refused.Message);
    }

    [Theory]
    [InlineData("10.1.2.3", false)]
    [InlineData("192.168.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("8.8.8.8", true)]
    public void IsPublic_SortsAddresses(string address, bool expected) =>
        Assert.Equal(expected, OutboundAddresses.IsPublic(System.Net.IPAddress.Parse(address)));
}
