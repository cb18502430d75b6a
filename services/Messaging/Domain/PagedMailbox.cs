using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgenticFlow.Messaging.Domain;

/// <summary>
/// An agent's queue kept as small records, so that no operation reads or writes more than a few of them however deep
/// the queue is: entries in pages of <see cref="PageSize"/> sequence numbers per priority, a fixed-size
/// <see cref="MailboxMeta"/>, a <see cref="LeaseBook"/> of what is in flight, dead letters in pages trimmed to the
/// newest <see cref="MailboxLimits.MaxDeadLetters"/>, and idempotency keys and fan-out copies as keys of their own
/// that expire. Not safe for concurrent use: the mailbox actor's turn lock runs one operation at a time.
/// </summary>
public sealed class PagedMailbox(IMailboxState state, MailboxLimits limits, TimeProvider time)
{
    public const int PageSize = 64;
    public const int DeadPageSize = 64;
    public const int Priorities = 4;
    public const string MetaKey = "meta";
    public const string LeasesKey = "leases";
    public const string MailboxFullReason = "mailbox-full";

    public static string PageKey(Priority priority, long page) => string.Create(CultureInfo.InvariantCulture, $"page:{(int)priority}:{page}");
    public static string DeadKey(long page) => string.Create(CultureInfo.InvariantCulture, $"dead:{page}");
    public static string IdempotencyKey(string key) => "idem:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    public static string CopyKey(string messageId) => "copy:" + messageId;

    /// <summary>Queues a message unless its idempotency key was used here lately or the mailbox is full.</summary>
    public async Task<EnqueueOutcome> EnqueueAsync(EnqueueRequest request)
    {
        var now = time.GetUtcNow();
        var meta = await MetaAsync();
        if (request.IdempotencyKey is { } key && await state.TryGetAsync<Remembered>(IdempotencyKey(key)) is { } earlier && earlier.Until > now)
        {
            return new EnqueueOutcome(SendStatus.Duplicate, earlier.MessageId, earlier.Priority, meta.Depth);
        }
        if (meta.Depth >= limits.MaxQueueDepth)
        {
            return new EnqueueOutcome(SendStatus.MailboxFull, request.MessageId, request.Priority, meta.Depth);
        }
        await AppendAsync(meta, request);
        if (request.IdempotencyKey is { } remembered)
        {
            await state.SetAsync(IdempotencyKey(remembered), new Remembered(request.MessageId, request.Priority, now + limits.DedupeRetention), limits.DedupeRetention);
        }
        await state.SetAsync(MetaKey, meta);
        return new EnqueueOutcome(SendStatus.Accepted, request.MessageId, request.Priority, meta.Depth);
    }

    /// <summary>Queues a fan-out copy once: a redelivered fan-out finds the copy's key and adds nothing, even after
    /// the first copy was acknowledged (for <see cref="MailboxLimits.DedupeRetention"/>). A copy meeting a full mailbox
    /// is not queued but goes straight to the dead letters (reason <c>mailbox-full</c>), where its owner can see it.</summary>
    public async Task<CopyOutcome> EnqueueCopyAsync(EnqueueRequest request)
    {
        var now = time.GetUtcNow();
        if (await state.TryGetAsync<Remembered>(CopyKey(request.MessageId)) is { } earlier && earlier.Until > now)
        {
            return CopyOutcome.AlreadyThere;
        }
        var meta = await MetaAsync();
        DeadLetter? refused = null;
        if (meta.Depth >= limits.MaxQueueDepth)
        {
            refused = await AddDeadLetterAsync(meta, Entry(request, sequence: -1), MailboxFullReason, now);
        }
        else
        {
            await AppendAsync(meta, request);
        }
        await state.SetAsync(CopyKey(request.MessageId), new Remembered(request.MessageId, request.Priority, now + limits.DedupeRetention), limits.DedupeRetention);
        await state.SetAsync(MetaKey, meta);
        return new CopyOutcome(refused is null, refused);
    }

    /// <summary>Leases up to <paramref name="max"/> available entries, highest priority first and oldest first within
    /// it; expired or over-delivered entries met on the way go to the dead letters. Reads pages from the head of each
    /// priority only as far as it must: past entries in flight, never the whole queue.</summary>
    public async Task<LeaseBatch> LeaseNextAsync(int max, TimeSpan leaseFor)
    {
        var now = time.GetUtcNow();
        var meta = await MetaAsync();
        var book = await BookAsync();
        var leases = new List<Lease>();
        var dead = new List<DeadLetter>();
        for (var p = Priorities - 1; p >= 0 && leases.Count < max; p--)
        {
            var priority = (Priority)p;
            for (var n = meta.Head[p]; meta.Count[p] > 0 && n <= LastPage(meta, p) && leases.Count < max; n++)
            {
                if (await state.TryGetAsync<List<MailboxEntry>>(PageKey(priority, n)) is not { } page)
                {
                    continue;
                }
                var changed = false;
                for (var i = 0; i < page.Count && leases.Count < max; i++)
                {
                    var entry = page[i];
                    if (entry.LeaseUntil > now)
                    {
                        continue;
                    }
                    changed = true;
                    if (DeadReason(entry, now) is { } reason)
                    {
                        page.RemoveAt(i--);
                        meta.Count[p]--;
                        book.Items.Remove(Ref(entry));
                        dead.Add(await AddDeadLetterAsync(meta, entry, reason, now));
                        continue;
                    }
                    var token = Token(entry);
                    var leased = entry with { LeaseUntil = now + leaseFor, LeaseToken = token, Deliveries = entry.Deliveries + 1 };
                    page[i] = leased;
                    book.Items[Ref(entry)] = new Watch(now + leaseFor, Leased: true);
                    leases.Add(new Lease(leased, token, now + leaseFor));
                }
                if (changed)
                {
                    await state.SetAsync(PageKey(priority, n), page);
                }
            }
            await TrimHeadAsync(meta, priority);
        }
        if (leases.Count > 0 || dead.Count > 0)
        {
            await state.SetAsync(MetaKey, meta);
            await state.SetAsync(LeasesKey, book);
        }
        return new LeaseBatch(leases, dead, meta.Depth);
    }

    /// <summary>Removes a leased entry for good.</summary>
    public async Task<AckStatus> AckAsync(string messageId, string leaseToken)
    {
        var (status, found) = await FindHeldAsync(messageId, leaseToken);
        if (status != AckStatus.Done)
        {
            return status;
        }
        var (priority, page, index) = found;
        var entry = page[index];
        page.RemoveAt(index);
        await state.SetAsync(PageKey(priority, PageOf(entry.Sequence)), page);
        var meta = await MetaAsync();
        meta.Count[(int)priority]--;
        await TrimHeadAsync(meta, priority);
        await state.SetAsync(MetaKey, meta);
        var book = await BookAsync();
        book.Items.Remove(Ref(entry));
        await state.SetAsync(LeasesKey, book);
        return AckStatus.Done;
    }

    /// <summary>Gives a leased entry back, available again at once or after <paramref name="delay"/>, in its old place.</summary>
    public async Task<AckStatus> NackAsync(string messageId, string leaseToken, TimeSpan delay)
    {
        var (status, found) = await FindHeldAsync(messageId, leaseToken);
        if (status != AckStatus.Done)
        {
            return status;
        }
        var now = time.GetUtcNow();
        var (priority, page, index) = found;
        var entry = page[index] with { LeaseUntil = delay > TimeSpan.Zero ? now + delay : null, LeaseToken = null };
        page[index] = entry;
        await state.SetAsync(PageKey(priority, PageOf(entry.Sequence)), page);
        var book = await BookAsync();
        // An entry out of deliveries stays watched, so the sweeper moves it even if nobody receives again.
        if (entry.Deliveries >= limits.MaxDeliveries)
        {
            book.Items[Ref(entry)] = new Watch(entry.LeaseUntil ?? now, Leased: false);
        }
        else
        {
            book.Items.Remove(Ref(entry));
        }
        await state.SetAsync(LeasesKey, book);
        return AckStatus.Done;
    }

    /// <summary>Moves to the dead letters what expired and what ran out of deliveries, whether or not anyone receives.
    /// Looks at the lease book's lapsed items; reads the pages only once the earliest recorded expiry has passed.</summary>
    public async Task<IReadOnlyList<DeadLetter>> SweepAsync()
    {
        var now = time.GetUtcNow();
        var meta = await MetaAsync();
        var book = await BookAsync();
        var dead = new List<DeadLetter>();
        var bookChanged = false;
        foreach (var (reference, watch) in book.Items.Where(i => i.Value.Until <= now).ToList())
        {
            book.Items.Remove(reference);
            bookChanged = true;
            if (!TryParseRef(reference, out var priority, out var sequence)
                || await state.TryGetAsync<List<MailboxEntry>>(PageKey(priority, PageOf(sequence))) is not { } page)
            {
                continue;
            }
            var index = page.FindIndex(e => e.Sequence == sequence);
            if (index >= 0 && !(page[index].LeaseUntil > now) && DeadReason(page[index], now) is { } reason)
            {
                var entry = page[index];
                page.RemoveAt(index);
                meta.Count[(int)priority]--;
                await state.SetAsync(PageKey(priority, PageOf(sequence)), page);
                dead.Add(await AddDeadLetterAsync(meta, entry, reason, now));
            }
        }
        var expiryChanged = false;
        if (meta.NextExpiry <= now)
        {
            meta.NextExpiry = await SweepExpiredAsync(meta, book, dead, now);
            expiryChanged = true;
        }
        for (var p = 0; p < Priorities; p++)
        {
            await TrimHeadAsync(meta, (Priority)p);
        }
        if (dead.Count > 0 || expiryChanged)
        {
            await state.SetAsync(MetaKey, meta);
        }
        if (bookChanged || dead.Count > 0)
        {
            await state.SetAsync(LeasesKey, book);
        }
        return dead;
    }

    /// <summary>The kept dead letters, oldest first.</summary>
    public async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync()
    {
        var meta = await MetaAsync();
        var letters = new List<DeadLetter>();
        for (var n = meta.DeadFirst / DeadPageSize; n * DeadPageSize < meta.DeadNext; n++)
        {
            if (await state.TryGetAsync<DeadLetterPage>(DeadKey(n)) is { } page)
            {
                letters.AddRange(page.Letters.Where((_, i) => n * DeadPageSize + i >= meta.DeadFirst));
            }
        }
        return letters;
    }

    public async Task<MailboxStats> StatsAsync()
    {
        var now = time.GetUtcNow();
        var meta = await MetaAsync();
        var book = await BookAsync();
        return new MailboxStats(meta.Depth, book.Items.Values.Count(w => w.Leased && w.Until > now), (int)(meta.DeadNext - meta.DeadFirst));
    }

    private async Task<MailboxMeta> MetaAsync() => await state.TryGetAsync<MailboxMeta>(MetaKey) ?? new MailboxMeta();

    private async Task<LeaseBook> BookAsync() => await state.TryGetAsync<LeaseBook>(LeasesKey) ?? new LeaseBook();

    private async Task AppendAsync(MailboxMeta meta, EnqueueRequest request)
    {
        var p = (int)request.Priority;
        var sequence = meta.Next[p]++;
        var key = PageKey(request.Priority, PageOf(sequence));
        var page = await state.TryGetAsync<List<MailboxEntry>>(key) ?? [];
        page.Add(Entry(request, sequence));
        await state.SetAsync(key, page);
        meta.Count[p]++;
        if (request.ExpiresAt is { } expires && !(meta.NextExpiry <= expires))
        {
            meta.NextExpiry = expires;
        }
    }

    private static MailboxEntry Entry(EnqueueRequest request, long sequence) => new()
    {
        MessageId = request.MessageId,
        Priority = request.Priority,
        Sequence = sequence,
        EnqueuedAt = request.EnqueuedAt,
        ExpiresAt = request.ExpiresAt,
    };

    /// <summary>Finds the entry a lease token points at (the token carries its priority and sequence number).</summary>
    private async Task<(AckStatus Status, (Priority Priority, List<MailboxEntry> Page, int Index) Found)> FindHeldAsync(string messageId, string leaseToken)
    {
        // A token this mailbox never issued cannot point at an entry, so whether the message is queued is unknown.
        if (!TryParseRef(leaseToken, out var priority, out var sequence))
        {
            return (AckStatus.LeaseNotHeld, default);
        }
        var page = await state.TryGetAsync<List<MailboxEntry>>(PageKey(priority, PageOf(sequence)));
        var index = page?.FindIndex(e => e.Sequence == sequence) ?? -1;
        if (index < 0)
        {
            return (AckStatus.NotFound, default);
        }
        var entry = page![index];
        return entry.MessageId == messageId && entry.LeaseToken == leaseToken && entry.LeaseUntil > time.GetUtcNow()
            ? (AckStatus.Done, (priority, page, index))
            : (AckStatus.LeaseNotHeld, default);
    }

    /// <summary>Reads every page: moves available expired entries and returns the earliest expiry still ahead
    /// (for an expired entry still leased, the end of its lease).</summary>
    private async Task<DateTimeOffset?> SweepExpiredAsync(MailboxMeta meta, LeaseBook book, List<DeadLetter> dead, DateTimeOffset now)
    {
        DateTimeOffset? next = null;
        for (var p = 0; p < Priorities; p++)
        {
            var priority = (Priority)p;
            for (var n = meta.Head[p]; meta.Count[p] > 0 && n <= LastPage(meta, p); n++)
            {
                if (await state.TryGetAsync<List<MailboxEntry>>(PageKey(priority, n)) is not { } page)
                {
                    continue;
                }
                var expired = page.Where(e => e.ExpiresAt <= now && !(e.LeaseUntil > now)).ToList();
                foreach (var entry in expired)
                {
                    page.Remove(entry);
                    meta.Count[p]--;
                    book.Items.Remove(Ref(entry));
                    dead.Add(await AddDeadLetterAsync(meta, entry, "expired", now));
                }
                foreach (var entry in page.Where(e => e.ExpiresAt is not null))
                {
                    var due = entry.ExpiresAt <= now ? entry.LeaseUntil!.Value : entry.ExpiresAt!.Value;
                    next = next is null || due < next ? due : next;
                }
                if (expired.Count > 0)
                {
                    await state.SetAsync(PageKey(priority, n), page);
                }
            }
        }
        return next;
    }

    private async Task<DeadLetter> AddDeadLetterAsync(MailboxMeta meta, MailboxEntry entry, string reason, DateTimeOffset now)
    {
        var letter = new DeadLetter(entry.MessageId, reason, now, entry.Deliveries);
        var key = DeadKey(meta.DeadNext / DeadPageSize);
        var page = await state.TryGetAsync<DeadLetterPage>(key) ?? new DeadLetterPage();
        page.Letters.Add(letter);
        await state.SetAsync(key, page);
        meta.DeadNext++;
        while (meta.DeadNext - meta.DeadFirst > limits.MaxDeadLetters)
        {
            meta.DeadFirst++;
            if (meta.DeadFirst % DeadPageSize == 0)
            {
                await state.RemoveAsync(DeadKey(meta.DeadFirst / DeadPageSize - 1));
            }
        }
        return letter;
    }

    /// <summary>Drops emptied pages at the head of a priority; the page new entries go to stays.</summary>
    private async Task TrimHeadAsync(MailboxMeta meta, Priority priority)
    {
        var p = (int)priority;
        while (meta.Head[p] < PageOf(meta.Next[p]))
        {
            var page = await state.TryGetAsync<List<MailboxEntry>>(PageKey(priority, meta.Head[p]));
            if (page is { Count: > 0 })
            {
                return;
            }
            if (page is not null)
            {
                await state.RemoveAsync(PageKey(priority, meta.Head[p]));
            }
            meta.Head[p]++;
        }
    }

    private string? DeadReason(MailboxEntry entry, DateTimeOffset now) =>
        entry.ExpiresAt <= now ? "expired" : entry.Deliveries >= limits.MaxDeliveries ? "max-deliveries" : null;

    private static long PageOf(long sequence) => sequence / PageSize;

    private static long LastPage(MailboxMeta meta, int p) => PageOf(meta.Next[p] - 1);

    private static string Ref(MailboxEntry entry) => string.Create(CultureInfo.InvariantCulture, $"{(int)entry.Priority}.{entry.Sequence}");

    private static string Token(MailboxEntry entry) => Ref(entry) + "." + Guid.NewGuid().ToString("N");

    /// <summary>Reads "priority.sequence" from the start of a reference or a lease token.</summary>
    private static bool TryParseRef(string text, out Priority priority, out long sequence)
    {
        priority = default;
        sequence = 0;
        var parts = text.Split('.');
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 0 or >= Priorities
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out sequence))
        {
            return false;
        }
        priority = (Priority)p;
        return true;
    }
}
