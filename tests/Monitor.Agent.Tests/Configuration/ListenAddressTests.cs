using System.Net;
using Monitor.Agent.Configuration;

namespace Monitor.Agent.Tests.Configuration;

public sealed class ListenAddressTests
{
    [Theory]
    [InlineData(":9420", null, 9420)]
    [InlineData("0.0.0.0:9100", "0.0.0.0", 9100)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("[::1]:9420", "::1", 9420)]
    public void TryParse_Valid(string text, string? address, int port)
    {
        Assert.True(ListenAddress.TryParse(text, out var parsed, out _));
        Assert.Equal(address is null ? null : IPAddress.Parse(address), parsed!.Address);
        Assert.Equal(port, parsed.Port);
    }

    [Fact]
    public void TryParse_Localhost_KeepsHostWithoutAddress()
    {
        Assert.True(ListenAddress.TryParse("localhost:9420", out var parsed, out _));
        Assert.Equal("localhost", parsed!.Host);
        Assert.Null(parsed.Address);
    }

    [Theory]
    [InlineData("9420")]
    [InlineData(":")]
    [InlineData(":-1")]
    [InlineData(":65536")]
    [InlineData("node1:9420")]
    public void TryParse_Invalid_GivesReason(string text)
    {
        Assert.False(ListenAddress.TryParse(text, out _, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }
}
