using Microsoft.Extensions.FileProviders;

namespace AgenticFlow.Gateway.Dashboard;

/// <summary>
/// The operator dashboard: static files (wwwroot, copied beside the gateway's assembly) served at <c>/</c>. The page
/// itself holds no data: it asks for an API key and calls the same <c>/api/v1</c> routes as any client, so the
/// gateway's authentication and role policies apply to everything it shows. Nothing is loaded from elsewhere (a
/// content security policy of 'self' says so to the browser).
/// </summary>
public static class DashboardExtensions
{
    /// <param name="root">The folder of the files; <c>wwwroot</c> beside the gateway's assembly unless named.</param>
    public static IApplicationBuilder UseDashboard(this IApplicationBuilder app, string? root = null)
    {
        root ??= Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (!Directory.Exists(root))
        {
            return app;
        }
        var files = new PhysicalFileProvider(root);
        // An allow-list, read once: "/" and the files at the top of wwwroot. Static files are served before
        // authentication, so a file that came to lie under a routed path (wwwroot/v1/models, say) must not answer that
        // route; and API calls skip the file lookup (a stat of the disk) on the hot path.
        var served = Directory.EnumerateFiles(root).Select(f => "/" + Path.GetFileName(f)).ToHashSet(StringComparer.Ordinal);
        served.Add("/");
        return app.UseWhen(context => served.Contains(context.Request.Path.Value ?? ""), dashboard => Serve(dashboard, files));
    }

    private static void Serve(IApplicationBuilder app, PhysicalFileProvider files)
    {
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = "" });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
                headers.XContentTypeOptions = "nosniff";
                headers.CacheControl = "no-cache";
            },
        });
    }
}
