# syntax=docker/dockerfile:1
# CampaignSlices API: build with the .NET SDK, run on the ASP.NET Core runtime as a non-root user.
# Base images: mcr.microsoft.com/dotnet/sdk:10.0 (build) and mcr.microsoft.com/dotnet/aspnet:10.0 (run).
#   docker build -t campaign-slices .     (or: docker compose up --build)
#   podman build -t campaign-slices .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so a source change does not re-download packages.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/CampaignSlices.Api/CampaignSlices.Api.csproj src/CampaignSlices.Api/
RUN dotnet restore src/CampaignSlices.Api/CampaignSlices.Api.csproj
COPY src/ src/
# The migrations: the project links db/migrations/*.sql into its output, and the runner reads them there.
COPY db/ db/
RUN dotnet publish src/CampaignSlices.Api/CampaignSlices.Api.csproj -c Release --no-restore -o /app \
 && ls /app/db/migrations/*.sql > /dev/null

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080
# The image's unprivileged "app" user; the service writes nothing to disk when given a connection string.
USER $APP_UID
ENTRYPOINT ["dotnet", "CampaignSlices.Api.dll"]
