using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>A real HTTP endpoint on loopback that records what it is sent and answers a chosen status.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Received(string Body, string? Signature, string? DeliveryId, DateTimeOffset At);

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>What the next requests are answered with; 200 unless a test says otherwise.</summary>
    public int AnswerStatus { get; set; } = 200;

    public string Url { get; private set; } = "";

    private WebhookReceiver(WebApplication app) => _app = app;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            receiver.Requests.Enqueue(new Received(await reader.ReadToEndAsync(),
                request.Headers["X-Campaign-Signature"], request.Headers["X-Campaign-Delivery"], DateTimeOffset.UtcNow));
            return Results.StatusCode(receiver.AnswerStatus);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = address + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
