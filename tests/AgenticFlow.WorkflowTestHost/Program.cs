using Dapr.Workflow;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A workflow app as its own OS process, so a test can kill -9 it in the middle of an activity.
// It finds its sidecar through DAPR_GRPC_ENDPOINT / DAPR_HTTP_ENDPOINT like any Dapr app. Activities append
// their key to the file in RUNS_FILE when they start (the file outlives the process), and the activity whose key
// is in GATED_KEY waits until the file in GATE_FILE exists before it finishes.
var runsFile = Environment.GetEnvironmentVariable("RUNS_FILE") ?? throw new InvalidOperationException("RUNS_FILE is not set");
var gatedKey = Environment.GetEnvironmentVariable("GATED_KEY");
var gateFile = Environment.GetEnvironmentVariable("GATE_FILE");

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddDaprWorkflow(options =>
{
    options.RegisterActivity<string, string>("Record", async (_, key) =>
    {
        await File.AppendAllTextAsync(runsFile, key + "\n");
        if (key == gatedKey && gateFile is not null)
        {
            while (!File.Exists(gateFile))
            {
                await Task.Delay(50);
            }
        }
        return key;
    });
    options.RegisterWorkflow<string, string>("ThreeRecords", async (context, prefix) =>
    {
        var results = new List<string>();
        for (var i = 1; i <= 3; i++)
        {
            results.Add(await context.CallActivityAsync<string>("Record", $"{prefix}-{i}"));
        }
        return string.Join(",", results);
    });
});
await builder.Build().RunAsync();
