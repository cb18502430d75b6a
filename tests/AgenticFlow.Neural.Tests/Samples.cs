using System.Globalization;
using AgenticFlow.Neural.Domain;

namespace AgenticFlow.Neural.Tests;

/// <summary>Small generated data sets with a clear signal, seeded so every run sees the same rows.</summary>
public static class Samples
{
    private static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>Binary: approved when income - debt is positive (with a little noise in the features).</summary>
    public static Tabular Binary(int rows = 200, int seed = 7)
    {
        var random = new Random(seed);
        var data = new List<string?[]>();
        for (var i = 0; i < rows; i++)
        {
            double income = random.NextDouble() * 10, debt = random.NextDouble() * 10;
            data.Add([F(income), F(debt), income - debt > 0 ? "true" : "false"]);
        }
        return new Tabular(["income", "debt", "approved"], data);
    }

    /// <summary>Multiclass: which of three clusters a point lies near.</summary>
    public static Tabular Multiclass(int rows = 240, int seed = 7)
    {
        var random = new Random(seed);
        (string Name, double X, double Y)[] centres = [("red", 0, 0), ("green", 10, 0), ("blue", 5, 9)];
        var data = new List<string?[]>();
        for (var i = 0; i < rows; i++)
        {
            var c = centres[i % 3];
            data.Add([F(c.X + random.NextDouble() * 2 - 1), F(c.Y + random.NextDouble() * 2 - 1), c.Name]);
        }
        return new Tabular(["x", "y", "colour"], data);
    }

    /// <summary>Regression: price = 3 * size + 2 * rooms + 5, plus small noise.</summary>
    public static Tabular Regression(int rows = 200, int seed = 7)
    {
        var random = new Random(seed);
        var data = new List<string?[]>();
        for (var i = 0; i < rows; i++)
        {
            double size = random.NextDouble() * 100, rooms = random.Next(1, 6);
            data.Add([F(size), F(rooms), F(3 * size + 2 * rooms + 5 + random.NextDouble() - 0.5)]);
        }
        return new Tabular(["size", "rooms", "price"], data);
    }

    public static readonly (string Text, string Label)[] Sentences =
    [
        ("the invoice total is wrong please refund me", "billing"), ("I was charged twice on my card", "billing"),
        ("refund the payment for last month", "billing"), ("my bill shows an extra fee", "billing"),
        ("how do I update my payment card", "billing"), ("the subscription price went up without notice", "billing"),
        ("the app crashes when I open settings", "bug"), ("error 500 when saving a file", "bug"),
        ("the button does nothing on click", "bug"), ("page freezes after login", "bug"),
        ("crash on startup since the update", "bug"), ("the upload fails with an error", "bug"),
        ("please add a dark mode", "feature"), ("it would be great to export to csv", "feature"),
        ("can you add keyboard shortcuts", "feature"), ("I would like a calendar view", "feature"),
        ("add support for two factor login", "feature"), ("please support more languages", "feature"),
    ];

    /// <summary>Text classification: support tickets by topic, each sentence a few times with small changes.</summary>
    public static Tabular Text(int repeat = 3)
    {
        var data = new List<string?[]>();
        for (var r = 0; r < repeat; r++)
        {
            foreach (var (text, label) in Sentences)
            {
                data.Add([r == 0 ? text : $"{text} {(r == 1 ? "thanks" : "hello team")}", label]);
            }
        }
        return new Tabular(["ticket", "topic"], data);
    }

    public static ModelSchema Schema(Tabular data, string task, string label)
    {
        var errors = new List<string>();
        var schema = ModelSchema.Infer(data, task, label, null, errors);
        Assert.True(schema is not null, string.Join("; ", errors));
        return schema!;
    }
}
