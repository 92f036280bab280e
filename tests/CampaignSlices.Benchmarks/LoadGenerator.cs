using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace CampaignSlices.Benchmarks;

/// <summary>One kind of request sent over and over: the paths are taken in turn, the headers and body are the same each time.</summary>
public sealed record LoadRequest(HttpMethod Method, IReadOnlyList<string> Paths, IReadOnlyDictionary<string, string> Headers, string? JsonBody = null);

/// <summary>
/// Drives a server on 127.0.0.1 with a fixed number of connections for a fixed time, each connection
/// sending its next request as soon as the previous answer is read (closed loop).
/// </summary>
public abstract class LoadGenerator
{
    public abstract string Description { get; }

    public abstract Task<Measure.LoadResult> RunAsync(Uri server, LoadRequest request, int connections, TimeSpan duration);

    /// <summary>wrk when it is installed (one process, one thread, epoll: the lightest client here), else the in-process HttpClient.</summary>
    public static LoadGenerator Create(string? name) => name switch
    {
        "wrk" => new Wrk(),
        "http" => new InProcessHttp(),
        null => Wrk.IsInstalled() ? new Wrk() : new InProcessHttp(),
        _ => throw new ArgumentException($"unknown client '{name}' (wrk or http)"),
    };

    private sealed class Wrk : LoadGenerator
    {
        public override string Description => "wrk (one process, one thread, HTTP/1.1 keep-alive)";

        public static bool IsInstalled() =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "wrk")));

        public override async Task<Measure.LoadResult> RunAsync(Uri server, LoadRequest request, int connections, TimeSpan duration)
        {
            var script = Path.Combine(Path.GetTempPath(), $"campaign-slices-wrk-{Guid.NewGuid():N}.lua");
            await File.WriteAllTextAsync(script, Script(request));
            try
            {
                var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var arg in new[]
                         {
                             "-t1", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "--timeout", "10s", "-s", script,
                             new Uri(server, "/").ToString(),
                         })
                    start.ArgumentList.Add(arg);
                using var process = Process.Start(start)!;
                var output = process.StandardOutput.ReadToEndAsync();
                var errors = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                var text = await output + await errors;
                var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
                    ?? throw new InvalidOperationException($"wrk exited with {process.ExitCode} and no result:\n{text}");
                var f = line.Split(' ')[1..].Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                // requests, duration µs, p50 µs, p99 µs, then the error counts: connect, read, write, status (not 2xx/3xx), timeout.
                if (f[4..].Any(count => count > 0))
                    throw new InvalidOperationException($"wrk counted errors (connect, read, write, non-2xx, timeout): {string.Join(", ", f[4..])}\n{text}");
                return new Measure.LoadResult(f[0] / (f[1] / 1e6), f[2] / 1000, f[3] / 1000, (int)f[0]);
            }
            finally
            {
                File.Delete(script);
            }
        }

        // The requests are formatted once in init(); request() hands out the next one, so wrk's Lua does no
        // work per request beyond an index.
        private static string Script(LoadRequest request)
        {
            var lua = new StringBuilder();
            lua.AppendLine("local paths = {");
            foreach (var path in request.Paths)
                lua.AppendLine($"  [==[{path}]==],");
            lua.AppendLine("}");
            lua.AppendLine("local headers = {");
            foreach (var (name, value) in request.Headers)
                lua.AppendLine($"  [ [==[{name}]==] ] = [==[{value}]==],");
            if (request.JsonBody is not null)
                lua.AppendLine("  [\"Content-Type\"] = \"application/json\",");
            lua.AppendLine("}");
            lua.AppendLine(request.JsonBody is null ? "local body = nil" : $"local body = [==[{request.JsonBody}]==]");
            lua.AppendLine($"local method = \"{request.Method.Method}\"");
            lua.AppendLine("""
                local formatted = {}
                local next_request = 0
                init = function(args)
                  for i, path in ipairs(paths) do
                    formatted[i] = wrk.format(method, path, headers, body)
                  end
                end
                request = function()
                  next_request = next_request % #formatted + 1
                  return formatted[next_request]
                end
                done = function(summary, latency, requests)
                  local e = summary.errors
                  io.write(string.format("RESULT %d %d %.0f %.0f %d %d %d %d %d\n", summary.requests, summary.duration,
                    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
                end
                """);
            return lua.ToString();
        }
    }

    private sealed class InProcessHttp : LoadGenerator
    {
        public override string Description => "HttpClient in the harness process (async, SocketsHttpHandler)";

        public override async Task<Measure.LoadResult> RunAsync(Uri server, LoadRequest request, int connections, TimeSpan duration)
        {
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections })
            {
                BaseAddress = server,
                Timeout = TimeSpan.FromSeconds(10),
            };
            var body = request.JsonBody is null ? null : Encoding.UTF8.GetBytes(request.JsonBody);
            return await Measure.LoadAsync(connections, duration, async i =>
            {
                using var message = new HttpRequestMessage(request.Method, request.Paths[i % request.Paths.Count]);
                foreach (var (name, value) in request.Headers)
                    message.Headers.TryAddWithoutValidation(name, value);
                if (body is not null)
                {
                    message.Content = new ByteArrayContent(body);
                    message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                }
                using var response = await client.SendAsync(message);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"{request.Method} {message.RequestUri} answered {(int)response.StatusCode}");
                await response.Content.CopyToAsync(Stream.Null);
            });
        }
    }
}
