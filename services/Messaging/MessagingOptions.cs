using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Messaging;

public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    /// <summary>Dapr state component holding messages and mailboxes; matches components/*/statestore.yaml.</summary>
    [Required]
    public string StateStore { get; set; } = "statestore";

    /// <summary>Dapr pub/sub component for the service's events and its own fan-out.</summary>
    [Required]
    public string PubSub { get; set; } = "pubsub";

    /// <summary>Where queues live: <c>actor</c> (an actor per mailbox, small records) or <c>document</c> (one
    /// document per mailbox under its ETag); see README "Mailbox designs".</summary>
    [Required, RegularExpression("^(actor|document)$", ErrorMessage = "Messaging:Mailboxes must be actor or document")]
    public string Mailboxes { get; set; } = Storage.MailboxDesigns.Actor;

    /// <summary>Deliveries after which an unacknowledged message goes to the dead letters.</summary>
    /// <summary>App id of the coordination service, which says who belongs to a team (the <c>team</c> recipient).</summary>
    [Required]
    public string CoordinationAppId { get; set; } = "coordination";

    [Range(1, 100)]
    public int MaxDeliveries { get; set; } = 5;

    [Range(1, 3600)]
    public int DefaultLeaseSeconds { get; set; } = 30;

    [Range(1, 100_000)]
    public int MaxQueueDepth { get; set; } = 10_000;

    /// <summary>Largest message body, in bytes of its JSON.</summary>
    [Range(1, 4 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    [Range(60, 30 * 86_400)]
    public int IdempotencyRetentionSeconds { get; set; } = 86_400;

    [Range(60, 30 * 86_400)]
    public int AckedRetentionSeconds { get; set; } = 86_400;

    /// <summary>How often every mailbox is swept for expired and over-delivered messages, whether or not anyone receives.</summary>
    [Range(1, 3600)]
    public int SweepSeconds { get; set; } = 10;

    /// <summary>Long-poll receives (<c>waitSeconds</c> &gt; 0) one queue may have waiting at once on a replica; one more
    /// is answered <c>429</c>. Receives that do not wait are not counted.</summary>
    [Range(1, 1_000)]
    public int MaxWaitingReceivesPerQueue { get; set; } = 8;

    /// <summary>Dead letters kept per mailbox (the newest); older ones leave the list, their records stay.</summary>
    [Range(1, 100_000)]
    public int MaxDeadLetters { get; set; } = 1_000;
}
