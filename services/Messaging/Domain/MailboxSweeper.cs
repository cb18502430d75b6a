using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Domain;

/// <summary>Sweeps every mailbox every <see cref="MessagingOptions.SweepSeconds"/>; replicas may sweep side by side,
/// since each sweep is one ETag-guarded change per mailbox that moves a message to the dead letters once.</summary>
public sealed partial class MailboxSweeper(MessagingService messaging, IOptions<MessagingOptions> options, TimeProvider time, ILogger<MailboxSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.SweepSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await messaging.SweepAllAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The state store may be away for a moment; the next tick tries again.
                LogSweepFailed(ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping mailboxes failed; trying again at the next tick")]
    private partial void LogSweepFailed(Exception ex);
}
