using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>A real HTTP endpoint on loopback that records every request it is sent, on any path, and answers a chosen status.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Received(string Method, string Path, string Body, IHeaderDictionary Headers, DateTimeOffset At)
    {
        public string? Id => Headers["webhook-id"];
        public string? Timestamp => Headers["webhook-timestamp"];
        public string? Signature => Headers["webhook-signature"];
    }

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>What the next requests are answered with; 200 unless a test says otherwise.</summary>
    public int AnswerStatus { get; set; } = 200;

    /// <summary>When set, the Location header of every answer (for redirects).</summary>
    public string? Location { get; set; }

    /// <summary>How long each answer is held back (for timeouts).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>The URL deliveries are posted to.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The receiver's own address, such as http://127.0.0.1:5123.</summary>
    public string Address { get; private set; } = "";

    private WebhookReceiver(WebApplication app) => _app = app;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Map("/{**path}", async (HttpRequest request, HttpResponse response) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            receiver.Requests.Enqueue(new Received(request.Method, request.Path, body,
                new HeaderDictionary(request.Headers.ToDictionary(header => header.Key, header => header.Value)), DateTimeOffset.UtcNow));
            if (receiver.Delay > TimeSpan.Zero)
                await Task.Delay(receiver.Delay);
            if (receiver.Location is { } location)
                response.Headers.Location = location;
            return Results.StatusCode(receiver.AnswerStatus);
        });
        await app.StartAsync();
        receiver.Address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = receiver.Address + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
