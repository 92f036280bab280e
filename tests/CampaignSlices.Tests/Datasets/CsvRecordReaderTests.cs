using System.Text;
using CampaignSlices.Api.Datasets;

namespace CampaignSlices.Tests.Datasets;

/// <summary>
/// The reader itself, fed one byte per read: every state must survive a buffer boundary anywhere
/// (inside a BOM, between CR and LF, between a closing quote and what follows), which HTTP alone rarely shows.
/// </summary>
public sealed class CsvRecordReaderTests
{
    private const string Tricky = "\uFEFFemail,note\r\n"
        + "a@x.io,\"one, \"\"two\"\"\r\nthree\"\r\n"
        + "\r\n"
        + "b@x.io,Zoë 日本\r"
        + "c@x.io,\"\"\n"
        + ",last";

    private static readonly string[][] Expected =
    [
        ["email", "note"],
        ["a@x.io", "one, \"two\"\r\nthree"],
        ["b@x.io", "Zoë 日本"],
        ["c@x.io", ""],
        ["", "last"],
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(1 << 20)]
    public async Task Reads_the_same_records_whatever_the_read_size(int bytesPerRead)
    {
        var (records, lines) = await ReadAllAsync(Encoding.UTF8.GetBytes(Tricky), bytesPerRead);
        Assert.Equal(Expected, records);
        Assert.Equal([1L, 2, 5, 6, 7], lines);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1 << 20)]
    public async Task An_unclosed_quote_names_the_line_it_opens_on(int bytesPerRead)
    {
        var error = await Assert.ThrowsAsync<CsvFormatException>(() => ReadAllAsync("a,b\n1,2\n3,\"x\n\ny\n"u8.ToArray(), bytesPerRead));
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public async Task More_bytes_than_allowed_stop_the_reading()
    {
        using var reader = new CsvRecordReader(new MemoryStream(Encoding.ASCII.GetBytes(new string('x', 300_000))), maxBytes: 200_000);
        await Assert.ThrowsAsync<CsvTooLargeException>(async () => await reader.ReadAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_record_may_not_grow_past_its_limit()
    {
        var csv = Encoding.UTF8.GetBytes("a\n\"" + new string('x', CsvRecordReader.MaxRecordBytes + 1));
        var error = await Assert.ThrowsAsync<CsvFormatException>(() => ReadAllAsync(csv, 1 << 16));
        Assert.Equal(2, error.Line);
    }

    private static async Task<(List<string[]> Records, List<long> Lines)> ReadAllAsync(byte[] csv, int bytesPerRead)
    {
        using var reader = new CsvRecordReader(new TrickleStream(csv, bytesPerRead), long.MaxValue);
        var records = new List<string[]>();
        var lines = new List<long>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            records.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.FieldText(i) ?? "")]);
            lines.Add(reader.RecordLine);
        }
        return (records, lines);
    }

    /// <summary>Hands out at most <paramref name="bytesPerRead"/> bytes per read.</summary>
    private sealed class TrickleStream(byte[] bytes, int bytesPerRead) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, bytesPerRead)], ct);
    }
}
