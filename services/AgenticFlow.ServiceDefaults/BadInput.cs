using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.ServiceDefaults;

/// <summary>Problem types shared by every service: one base URL, one name per kind of problem.</summary>
public static class Problems
{
    public const string Base = "https://agenticflow.dev/problems/";
    public const string MalformedRequest = Base + "malformed-request";
}

/// <summary>How a service answers a request it cannot read: problem details by default; a path prefix may have
/// its own writer (the OpenAI-compatible surface answers in OpenAI's error shape).</summary>
public sealed class BadInputOptions
{
    public List<(PathString Prefix, Func<HttpContext, int, string, Task> Write)> Writers { get; } = [];
}

/// <summary>
/// A request whose body does not parse or bind, or whose route or query values have the wrong type, is the
/// caller's mistake: it answers 400 (413 when too large, 415 for a content type the endpoint does not read) with
/// what was wrong and where, and the endpoint never runs, so nothing is stored or sent. Every other exception is
/// left to the default handler: a 500 means the service broke (a JSON error reading stored data included; only
/// binding errors, which ASP.NET wraps in BadHttpRequestException, are the caller's).
/// </summary>
public sealed partial class BadInputHandler(Microsoft.Extensions.Options.IOptions<BadInputOptions> options, ILogger<BadInputHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.Response.HasStarted || Describe(exception) is not { } problem)
        {
            return false;
        }
        LogBadInput(context.Request.Method, context.Request.Path, problem.Status, problem.Detail);
        context.Response.StatusCode = problem.Status;
        foreach (var (prefix, write) in options.Value.Writers)
        {
            if (context.Request.Path.StartsWithSegments(prefix))
            {
                await write(context, problem.Status, problem.Detail);
                return true;
            }
        }
        await Results.Problem(title: problem.Title, detail: problem.Detail, statusCode: problem.Status, type: Problems.MalformedRequest).ExecuteAsync(context);
        return true;
    }

    /// <summary>Writes a body for an error status an endpoint or the framework set without one.</summary>
    public static async Task WriteStatusAsync(StatusCodeContext status)
    {
        var http = status.HttpContext;
        var code = http.Response.StatusCode;
        foreach (var (prefix, write) in http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<BadInputOptions>>().Value.Writers)
        {
            if (http.Request.Path.StartsWithSegments(prefix))
            {
                await write(http, code, ReasonPhrases.GetReasonPhrase(code));
                return;
            }
        }
        // Problem details as JSON whatever the caller's Accept says (the problem details service refuses to write
        // when Accept excludes JSON, which would turn this answer into a 500).
        await Results.Problem(statusCode: code).ExecuteAsync(http);
    }

    /// <summary>The status, title and detail for an exception that means the request was malformed; null otherwise.</summary>
    public static (int Status, string Title, string Detail)? Describe(Exception exception)
    {
        switch (exception)
        {
            case BadHttpRequestException bad:
                var inner = bad.InnerException as JsonException;
                var where = inner is null ? "" : $" {Position(inner)}";
                var status = bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : StatusCodes.Status400BadRequest;
                return (status, status switch
                {
                    StatusCodes.Status413PayloadTooLarge => "Request body too large",
                    StatusCodes.Status415UnsupportedMediaType => "Unsupported content type",
                    _ => "Malformed request",
                }, bad.Message + where);
            default:
                return null;
        }
    }

    private static string Position(JsonException json) =>
        (json.Path, json.LineNumber, json.BytePositionInLine) switch
        {
            (null, null, _) => $": {FirstLine(json.Message)}",
            (var path, var line, var at) => $" (at {path ?? "$"}, line {line + 1}, byte {at}): {FirstLine(json.Message)}",
        };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused a malformed request {Method} {Path}: {Status} {Detail}")]
    private partial void LogBadInput(string method, string path, int status, string detail);
}

public static class BadInputExtensions
{
    /// <summary>Binding failures throw (rather than answering an empty 400), so <see cref="BadInputHandler"/> answers them
    /// with a problem that says what was wrong.</summary>
    public static IServiceCollection AddBadInputHandling(this IServiceCollection services)
    {
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadInputHandler>();
        return services;
    }

    /// <summary>Requests under <paramref name="prefix"/> that cannot be read are answered by <paramref name="write"/>
    /// (status, detail) instead of problem details.</summary>
    public static IServiceCollection AddBadInputWriter(this IServiceCollection services, PathString prefix, Func<HttpContext, int, string, Task> write) =>
        services.Configure<BadInputOptions>(o => o.Writers.Add((prefix, write)));
}
