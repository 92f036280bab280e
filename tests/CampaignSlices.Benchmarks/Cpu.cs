namespace CampaignSlices.Benchmarks;

/// <summary>
/// Processor time read from /proc, so that a load round can say which process spent the machine's two
/// cores: the server under load, PostgreSQL (postmaster and every backend), the load generator.
/// </summary>
public static class Cpu
{
    /// <summary>USER_HZ: the unit of the times in /proc/&lt;pid&gt;/stat and /proc/stat, 100 on Linux.</summary>
    public const double TicksPerSecond = 100.0;

    /// <summary>User and system time of <paramref name="pid"/>; with <paramref name="reapedChildren"/> also that of its children it has waited for.</summary>
    public static double Seconds(int pid, bool reapedChildren = false)
    {
        var fields = Fields(pid);
        if (fields is null)
            return 0;
        // After the ")" that closes the command name: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime.
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
        if (reapedChildren)
            ticks += long.Parse(fields[13]) + long.Parse(fields[14]);
        return ticks / TicksPerSecond;
    }

    /// <summary>This process's own time plus that of the children it has waited for (wrk runs as one).</summary>
    public static double SelfAndReapedChildrenSeconds() => Seconds(Environment.ProcessId, reapedChildren: true);

    /// <summary>
    /// A PostgreSQL server's whole time: the postmaster (including the backends that have exited, which
    /// it reaped) and every live child process (backends, checkpointer, WAL writer, autovacuum).
    /// </summary>
    public static double PostgresSeconds(string dataDirectory)
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First());
        var total = Seconds(postmaster, reapedChildren: true);
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid) || Fields(pid) is not { } fields)
                continue;
            if (int.Parse(fields[1]) == postmaster)
                total += (long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond;
        }
        return total;
    }

    /// <summary>All cores' busy and total time from /proc/stat, in ticks, to tell a quiet machine from a loaded one.</summary>
    public static (long Busy, long Total) MachineTicks()
    {
        var values = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        // user nice system idle iowait irq softirq steal (guest times are already inside user and nice)
        var total = values.Take(8).Sum();
        return (total - values[3] - values[4], total);
    }

    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null; // the process has just exited
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
