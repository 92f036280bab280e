using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>PATCH, GET and the events of one campaign, with the ETag each answer carries.</summary>
public static class PatchRequests
{
    public sealed record Answer(int Status, JsonObject Body, string? ETag, string? MediaType, string Text);

    public static async Task<Answer> PatchAsync(HttpClient client, JsonNode campaignId, JsonNode body, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/campaigns/{campaignId}") { Content = JsonContent.Create(body) };
        if (ifMatch is not null)
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return await SendAsync(client, request);
    }

    public static async Task<Answer> GetAsync(HttpClient client, JsonNode campaignId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/campaigns/{campaignId}");
        var answer = await SendAsync(client, request);
        Assert.True(answer.Status == 200, answer.Text);
        return answer;
    }

    public static async Task<JsonArray> EventsAsync(HttpClient client, JsonNode campaignId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/events");
        var answer = await SendAsync(client, request);
        Assert.True(answer.Status == 200, answer.Text);
        return answer.Body["items"]!.AsArray();
    }

    /// <summary>Whether <paramref name="actual"/> holds everything <paramref name="expected"/> says (objects may hold more: defaults, step numbers).</summary>
    public static bool Holds(JsonNode? actual, JsonNode? expected) => expected switch
    {
        JsonObject wanted => actual is JsonObject found && wanted.All(p => found.ContainsKey(p.Key) && Holds(found[p.Key], p.Value)),
        JsonArray wanted => actual is JsonArray found && found.Count == wanted.Count && wanted.Zip(found).All(pair => Holds(pair.Second, pair.First)),
        _ => JsonNode.DeepEquals(actual, expected),
    };

    private static async Task<Answer> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var body = text.Length > 0 && JsonNode.Parse(text) is JsonObject obj ? obj : new JsonObject();
        return new Answer((int)response.StatusCode, body, response.Headers.ETag?.ToString(), response.Content.Headers.ContentType?.MediaType, text);
    }
}
