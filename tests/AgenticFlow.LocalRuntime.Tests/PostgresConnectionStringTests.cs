using AgenticFlow.LocalRuntime.State;
using Npgsql;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>The connection string forms daprd's PostgreSQL components take (pgx) read into Npgsql's.</summary>
public sealed class PostgresConnectionStringTests
{
    [Theory]
    [InlineData("host=db.local port=6543 user=agent password=s3cret dbname=flows sslmode=disable")]
    [InlineData("host=db.local port=6543 user=agent password='s3cret' dbname=flows sslmode=disable pool_max_conns=10")]
    [InlineData("postgres://agent:s3cret@db.local:6543/flows?sslmode=disable")]
    [InlineData("postgresql://agent:s3cret@db.local:6543/flows?sslmode=disable&pool_max_conns=10")]
    [InlineData("Host=db.local;Port=6543;Username=agent;Password=s3cret;Database=flows;SSL Mode=Disable")]
    [InlineData("host = db.local port = 6543 user = agent password = s3cret dbname = flows sslmode = disable")]
    public void PgxAndNpgsqlForms_NameTheSameServer(string given)
    {
        var read = new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql(given));

        Assert.Equal("db.local", read.Host);
        Assert.Equal(6543, read.Port);
        Assert.Equal("agent", read.Username);
        Assert.Equal("s3cret", read.Password);
        Assert.Equal("flows", read.Database);
        Assert.Equal(SslMode.Disable, read.SslMode);
    }

    [Fact]
    public void QuotedValues_KeepTheirSpacesAndEscapes()
    {
        var read = new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql(@"host=h user=u password='a b\'c' dbname=d"));

        Assert.Equal("a b'c", read.Password);
        Assert.Equal("d", read.Database);
        Assert.Equal("p;w", new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql("host=h user=u password='p;w' dbname=d")).Password);
        Assert.Equal("::1", new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql("postgres://u@[::1]:5432/d")).Host);
    }
}
