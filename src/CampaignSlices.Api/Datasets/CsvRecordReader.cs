using System.Buffers;
using System.Text;

namespace CampaignSlices.Api.Datasets;

/// <summary>
/// Reads RFC 4180 CSV from a UTF-8 byte stream one record at a time through a fixed buffer, so a file is
/// never held whole. Accepts CRLF, LF or CR line ends and a leading BOM, skips blank lines, and fails
/// with the line number on an unclosed or stray quote, invalid UTF-8, a NUL, or more bytes than allowed.
/// </summary>
public sealed class CsvRecordReader(Stream source, long maxBytes) : IDisposable
{
    /// <summary>A record may not grow past this: an unclosed quote must not swallow the rest of a large file.</summary>
    public const int MaxRecordBytes = 1024 * 1024;
    private const int BufferBytes = 128 * 1024;

    private static readonly SearchValues<byte> UnquotedSpecials = SearchValues.Create(",\"\r\n\0"u8);
    private static readonly SearchValues<byte> QuotedSpecials = SearchValues.Create("\"\n\0"u8);
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private enum State { FieldStart, Unquoted, Quoted, QuoteInQuoted }

    private readonly byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
    private int position, length;
    private bool started, skipLineFeed;
    private byte[] record = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int recordLength;
    private int[] fieldEnds = new int[16];
    private long line = 1, quoteLine;

    public long BytesRead { get; private set; }

    /// <summary>The 1-based line on which the current record starts.</summary>
    public long RecordLine { get; private set; }

    public int FieldCount { get; private set; }

    public ReadOnlySpan<byte> Field(int index)
    {
        var start = index == 0 ? 0 : fieldEnds[index - 1];
        return record.AsSpan(start, fieldEnds[index] - start);
    }

    /// <summary>The field as text, or null when it is empty.</summary>
    public string? FieldText(int index)
    {
        var bytes = Field(index);
        if (bytes.IsEmpty)
            return null;
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new CsvFormatException(RecordLine, "is not valid UTF-8 text.");
        }
    }

    /// <summary>Moves to the next record; false at the end of the file.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        recordLength = 0;
        FieldCount = 0;
        var state = State.FieldStart;
        while (true)
        {
            if (position == length && !await FillAsync(ct))
                return EndOfFile(state);
            if (skipLineFeed)
            {
                skipLineFeed = false;
                if (buffer[position] == '\n')
                {
                    position++;
                    continue;
                }
            }
            var span = buffer.AsSpan(position, length - position);
            switch (state)
            {
                case State.FieldStart when span[0] == '"':
                    StartRecordIfFirstField();
                    quoteLine = line;
                    position++;
                    state = State.Quoted;
                    break;
                case State.FieldStart when FieldCount == 0 && span[0] is (byte)'\r' or (byte)'\n':
                    EndLine(span[0]); // a blank line is no record
                    break;
                case State.FieldStart:
                    StartRecordIfFirstField();
                    state = State.Unquoted;
                    break;
                case State.Unquoted:
                {
                    var special = span.IndexOfAny(UnquotedSpecials);
                    Append(special < 0 ? span : span[..special]);
                    if (special < 0)
                        break;
                    var found = span[special];
                    switch (found)
                    {
                        case (byte)',':
                            position++;
                            EndField();
                            state = State.FieldStart;
                            break;
                        case (byte)'"':
                            throw new CsvFormatException(line, "has a quote inside an unquoted field; quote the whole field and double the quotes within it.");
                        case 0:
                            throw new CsvFormatException(line, "contains a NUL character.");
                        default:
                            EndField();
                            EndLine(found);
                            return true;
                    }
                    break;
                }
                case State.Quoted:
                {
                    var special = span.IndexOfAny(QuotedSpecials);
                    Append(special < 0 ? span : span[..special]);
                    if (special < 0)
                        break;
                    var found = span[special];
                    position++;
                    if (found == 0)
                        throw new CsvFormatException(line, "contains a NUL character.");
                    if (found == '\n')
                    {
                        Keep("\n"u8);
                        line++;
                    }
                    else
                        state = State.QuoteInQuoted;
                    break;
                }
                case State.QuoteInQuoted:
                    switch (span[0])
                    {
                        case (byte)'"':
                            position++;
                            Keep("\""u8);
                            state = State.Quoted;
                            break;
                        case (byte)',':
                            position++;
                            EndField();
                            state = State.FieldStart;
                            break;
                        case (byte)'\r' or (byte)'\n':
                            EndField();
                            EndLine(span[0]);
                            return true;
                        default:
                            throw new CsvFormatException(line, "has text after the closing quote of a field; double a quote that is part of the value.");
                    }
                    break;
            }
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(buffer);
        ArrayPool<byte>.Shared.Return(record);
    }

    private bool EndOfFile(State state)
    {
        switch (state)
        {
            case State.Quoted:
                throw new CsvFormatException(quoteLine, "opens a quoted field that is never closed.");
            case State.FieldStart when FieldCount == 0:
                return false;
            default:
                EndField();
                return true;
        }
    }

    private void StartRecordIfFirstField()
    {
        if (FieldCount == 0 && recordLength == 0)
            RecordLine = line;
    }

    private void EndLine(byte lineEnd)
    {
        position++;
        line++;
        skipLineFeed = lineEnd == '\r';
    }

    private void EndField()
    {
        if (FieldCount == fieldEnds.Length)
            Array.Resize(ref fieldEnds, fieldEnds.Length * 2);
        fieldEnds[FieldCount++] = recordLength;
    }

    /// <summary>Adds to the current field what the buffer holds at the read position, and moves past it.</summary>
    private void Append(ReadOnlySpan<byte> bytes)
    {
        Keep(bytes);
        position += bytes.Length;
    }

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (recordLength + bytes.Length > MaxRecordBytes)
            throw new CsvFormatException(RecordLine, $"starts a record longer than {MaxRecordBytes / 1024 / 1024} MiB; is a quote left open?");
        if (recordLength + bytes.Length > record.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(record.Length * 2, recordLength + bytes.Length));
            record.AsSpan(0, recordLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(record);
            record = larger;
        }
        bytes.CopyTo(record.AsSpan(recordLength));
        recordLength += bytes.Length;
    }

    private async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        length = await source.ReadAsync(buffer, ct);
        position = 0;
        BytesRead += length;
        if (BytesRead > maxBytes)
            throw new CsvTooLargeException();
        if (!started && length > 0)
        {
            // The BOM may arrive split over reads; gather its three bytes first.
            while (length < 3 && buffer[0] == 0xEF)
            {
                var more = await source.ReadAsync(buffer.AsMemory(length), ct);
                if (more == 0)
                    break;
                length += more;
                BytesRead += more;
            }
            started = true;
            if (buffer.AsSpan(0, length).StartsWith("\uFEFF"u8))
                position = 3;
            if (position == length)
                return await FillAsync(ct);
        }
        return length > 0;
    }
}

/// <summary>The CSV is not well formed; <see cref="Line"/> is where the problem is.</summary>
public sealed class CsvFormatException(long line, string problem) : Exception($"Line {line} {problem}")
{
    public long Line { get; } = line;

    /// <summary>What is wrong at <see cref="Line"/>, as the rest of a sentence that starts with the line.</summary>
    public string Problem { get; } = problem;
}

/// <summary>The CSV has more bytes than the import accepts.</summary>
public sealed class CsvTooLargeException() : Exception("The CSV is larger than the import accepts.");
