// The dispatch endpoints as the worker calls them. A 409 on a heartbeat or a release (the lease is no longer this worker's) is
// an answer, not an error; anything else that is not a success is thrown as a DispatchApiException.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace CampaignSlices.Worker;

public sealed class DispatchApiException(HttpStatusCode status, string body)
    : Exception($"the dispatch API answered {(int)status}: {(body.Length > 500 ? body[..500] : body)}")
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>The token is missing, wrong, expired or lacks the dispatch scope: trying again will not help.</summary>
    public bool IsRefused => Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;
}

public sealed class DispatchApi : IDisposable
{
    /// <summary>Longer than the longest long poll (20 s), so a lease that waits is not cut short.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;

    public DispatchApi(Uri api, string token)
    {
        _http = new HttpClient { BaseAddress = api, Timeout = RequestTimeout };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public async Task<List<Lease>> LeaseAsync(LeaseRequest request, CancellationToken ct) =>
        (await PostAsync<LeaseRequest, LeaseAnswer>("api/v1/dispatch/leases", request, conflictIsAnswer: false, ct))!.Items;

    /// <summary>The lease's new end, or null when the lease is no longer held (409).</summary>
    public async Task<DateTimeOffset?> HeartbeatAsync(Lease lease, int leaseSeconds, CancellationToken ct) =>
        (await PostAsync<HeartbeatRequest, HeartbeatAnswer>($"api/v1/dispatch/actions/{lease.ActionId}/heartbeat",
            new HeartbeatRequest(lease.LeaseToken, leaseSeconds), conflictIsAnswer: true, ct))?.LeaseExpiresAt;

    /// <summary>Gives the action back undone, due again after <paramref name="delaySeconds"/>; false when the lease was no longer held.</summary>
    public async Task<bool> ReleaseAsync(Lease lease, int delaySeconds, CancellationToken ct) =>
        await PostAsync<ReleaseRequest, object>($"api/v1/dispatch/actions/{lease.ActionId}/release",
            new ReleaseRequest(lease.LeaseToken, delaySeconds), conflictIsAnswer: true, ct) is not null;

    public async Task<List<OutcomeAnswer>> ReportAsync(List<OutcomeReport> reports, CancellationToken ct) =>
        (await PostAsync<OutcomesRequest, OutcomesAnswer>("api/v1/dispatch/outcomes", new OutcomesRequest(reports), conflictIsAnswer: false, ct))!.Items;

    private async Task<TAnswer?> PostAsync<TRequest, TAnswer>(string path, TRequest body, bool conflictIsAnswer, CancellationToken ct)
        where TAnswer : class
    {
        using var response = await _http.PostAsJsonAsync(path, body, Wire.Options, ct);
        if (conflictIsAnswer && response.StatusCode == HttpStatusCode.Conflict)
            return null;
        if (!response.IsSuccessStatusCode)
            throw new DispatchApiException(response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        return await response.Content.ReadFromJsonAsync<TAnswer>(Wire.Options, ct)
            ?? throw new DispatchApiException(response.StatusCode, "an empty body");
    }

    public void Dispose() => _http.Dispose();
}
