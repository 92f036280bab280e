# syntax=docker/dockerfile:1
# CampaignSlices API: build with the .NET SDK, run on the ASP.NET Core runtime as a non-root user.
#   docker build -t campaign-slices .     (or: docker compose up --build)

# The Scalar UI bundle (served at /scalar), fetched from the npm registry at the version that
# src/CampaignSlices.Api/Scalar.targets pins, so the SDK stage needs no Node.js.
FROM node:22-bookworm-slim AS scalar
WORKDIR /scalar
COPY src/CampaignSlices.Api/Scalar.targets ./
RUN version="$(sed -n 's:.*<ScalarVersion>\(.*\)</ScalarVersion>.*:\1:p' Scalar.targets)" \
 && npm pack "@scalar/api-reference@${version}" --loglevel=error \
 && tar -xzf "scalar-api-reference-${version}.tgz" package/dist/browser/standalone.js \
 && mkdir -p "cache/${version}" \
 && mv package/dist/browser/standalone.js "cache/${version}/standalone.js"

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so a source change does not re-download packages.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/CampaignSlices.Api/CampaignSlices.Api.csproj src/CampaignSlices.Api/Scalar.targets src/CampaignSlices.Api/
RUN dotnet restore src/CampaignSlices.Api/CampaignSlices.Api.csproj
COPY src/ src/
# The migrations: the project links db/migrations/*.sql into its output, and the runner reads them there.
COPY db/ db/
COPY --from=scalar /scalar/cache/ src/CampaignSlices.Api/.scalar/
RUN dotnet publish src/CampaignSlices.Api/CampaignSlices.Api.csproj -c Release --no-restore -o /app -p:ScalarFetch=false \
 && ls /app/db/migrations/*.sql > /dev/null \
 && test -f /app/scalar/standalone.js

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080
# The image's unprivileged "app" user; the service writes nothing to disk when given a connection string.
USER $APP_UID
ENTRYPOINT ["dotnet", "CampaignSlices.Api.dll"]
