using System.Text.Json;
using AgenticFlow.Messaging.Apis;
using AgenticFlow.Messaging.Domain;

namespace AgenticFlow.Messaging.Tests;

public sealed class MailboxTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static StoredMessage Message(string id, Priority priority, DateTimeOffset? expires = null) => new()
    {
        Id = id,
        RecipientKind = "agent",
        RecipientId = "a",
        Priority = priority,
        Body = JsonSerializer.SerializeToElement(id),
        EnqueuedAt = Now,
        ExpiresAt = expires,
    };

    [Fact]
    public void LeaseNext_TakesHighestPriorityFirst_AndOldestWithinAPriority()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("low-1", Priority.Low));
        mailbox.Enqueue(Message("normal-1", Priority.Normal));
        mailbox.Enqueue(Message("critical-1", Priority.Critical));
        mailbox.Enqueue(Message("normal-2", Priority.Normal));
        mailbox.Enqueue(Message("high-1", Priority.High));

        var leased = mailbox.LeaseNext(10, TimeSpan.FromSeconds(30), Now);

        Assert.Equal(["critical-1", "high-1", "normal-1", "normal-2", "low-1"], leased.Select(l => l.Entry.MessageId));
    }

    [Fact]
    public void LeasedEntries_AreNotLeasedAgain_UntilTheLeaseEnds()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("m", Priority.Normal));

        var first = Assert.Single(mailbox.LeaseNext(5, TimeSpan.FromSeconds(10), Now));
        Assert.Empty(mailbox.LeaseNext(5, TimeSpan.FromSeconds(10), Now.AddSeconds(9)));
        var second = Assert.Single(mailbox.LeaseNext(5, TimeSpan.FromSeconds(10), Now.AddSeconds(10)));

        Assert.NotEqual(first.Token, second.Token);
        Assert.Equal(2, second.Entry.Deliveries);
        Assert.Equal(LeaseCheck.NotHeld, mailbox.Find("m", first.Token, Now.AddSeconds(11), out _));
        Assert.Equal(LeaseCheck.Held, mailbox.Find("m", second.Token, Now.AddSeconds(11), out _));
    }

    [Fact]
    public void Sweep_DeadLettersExpiredAndOverDeliveredEntries_ButNotLeasedOnes()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("expired", Priority.Normal, Now.AddSeconds(1)));
        mailbox.Enqueue(Message("tired", Priority.Normal));
        mailbox.LeaseNext(2, TimeSpan.FromSeconds(1), Now);
        mailbox.Enqueue(Message("fine", Priority.Normal));

        Assert.Empty(mailbox.Sweep(Now.AddMilliseconds(500), maxDeliveries: 1));
        var moved = mailbox.Sweep(Now.AddSeconds(2), maxDeliveries: 1);

        Assert.Equal(["expired", "tired"], moved.Select(d => d.MessageId).Order());
        Assert.Equal("expired", moved.Single(d => d.MessageId == "expired").Reason);
        Assert.Equal("max-deliveries", moved.Single(d => d.MessageId == "tired").Reason);
        Assert.Equal(["fine"], mailbox.Entries.Select(e => e.MessageId));
    }

    [Fact]
    public void Release_WithADelay_HoldsTheEntryBackUntilThen()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("m", Priority.Normal));
        var lease = Assert.Single(mailbox.LeaseNext(1, TimeSpan.FromSeconds(30), Now));

        mailbox.Release(lease.Entry, TimeSpan.FromSeconds(5), Now);

        Assert.Empty(mailbox.LeaseNext(1, TimeSpan.FromSeconds(30), Now.AddSeconds(4)));
        Assert.Single(mailbox.LeaseNext(1, TimeSpan.FromSeconds(30), Now.AddSeconds(5)));
    }

    [Fact]
    public void FanOutCopies_AreRemembered_SoARedeliveredFanOutDoesNotQueueThemTwice()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("copy-1", Priority.Normal), remember: true);
        mailbox.Enqueue(Message("direct-1", Priority.Normal));
        mailbox.Entries.Clear();

        Assert.True(mailbox.Contains("copy-1"));
        Assert.False(mailbox.Contains("direct-1"));
    }

    [Fact]
    public void ARefusedCopy_IsADeadLetter_AndRemembered()
    {
        var mailbox = new Mailbox();
        mailbox.Enqueue(Message("m1", Priority.Normal));

        var letter = mailbox.Refuse(Message("copy-1", Priority.Normal), PagedMailbox.MailboxFullReason, Now, keepDeadLetters: 10);

        Assert.Equal(("copy-1", "mailbox-full"), (letter.MessageId, letter.Reason));
        Assert.Equal(1, mailbox.Depth);
        Assert.True(mailbox.Contains("copy-1"));
        Assert.Equal([letter], mailbox.DeadLetters);
    }
}

public sealed class ValidationTests
{
    private static SendMessageRequest Request(string? kind = "agent", string? id = "a1", string? priority = "high", object? body = null, int? ttl = null) =>
        new(new RecipientDto(kind, id), priority, JsonSerializer.SerializeToElement(body ?? new { x = 1 }), ttl, null, null, null, null);

    [Fact]
    public void AValidRequest_BecomesACommand()
    {
        var errors = Validation.Check(Request(), 1024, out var command, "key-from-header");

        Assert.Empty(errors);
        Assert.Equal(new Recipient(RecipientKind.Agent, "a1"), command!.Recipient);
        Assert.Equal(Priority.High, command.Priority);
        Assert.Equal("key-from-header", command.IdempotencyKey);
    }

    [Theory]
    [InlineData("robot", "a1", "high", "recipient.kind")]
    [InlineData("1", "a1", "high", "recipient.kind")]
    [InlineData("agent", "", "high", "recipient.id")]
    [InlineData("agent", "a:b", "high", "recipient.id")]
    [InlineData("agent", "a1", "urgent", "priority")]
    public void InvalidFields_AreNamed(string kind, string id, string priority, string field)
    {
        var errors = Validation.Check(Request(kind, id, priority), 1024, out var command, null);

        Assert.Contains(field, errors.Keys);
        Assert.Null(command);
    }

    [Fact]
    public void Oversized_AndExpiredBodies_AreRefused()
    {
        Assert.Contains("body", Validation.Check(Request(body: new string('x', 2000)), 1024, out _, null).Keys);
        Assert.Contains("ttlSeconds", Validation.Check(Request(ttl: 0), 1024, out _, null).Keys);
    }
}
