"""A one-file Django project instrumented with the SDK."""

from __future__ import annotations

import logging

from django.conf import settings

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["127.0.0.1", "localhost"], ROOT_URLCONF=__name__, SECRET_KEY="test-only",
    MIDDLEWARE=["rexwatch.sdk.django.RexwatchMiddleware"], INSTALLED_APPS=[], DATABASES={},
    LOGGING_CONFIG=None,
)

import django  # noqa: E402
from checks import HEALTHS, rss_bytes  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import Http404, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

import rexwatch.sdk as rw  # noqa: E402

django.setup()
rw.configure()
log = logging.getLogger("utm.api")


def get_tenant(request, tenant_id: str):
    log.info("tenant fetched", extra={"tenant_id": tenant_id})
    rw.put_metric("TenantFetched", 1, "Count")
    return JsonResponse({"id": tenant_id})


def noisy(request):
    log.info("noisy work")
    return HttpResponse(status=int(request.GET.get("code", 200)))


def missing(request):
    raise Http404("no such thing")


def fail(request):
    raise RuntimeError("kaboom")


def sdk_stats(request):
    return JsonResponse({**rw.stats(), "rss": rss_bytes()})


urlpatterns = [
    path("api/v1/tenants/<str:tenant_id>", get_tenant),
    path("api/v1/noisy", noisy),
    path("api/v1/missing", missing),
    path("api/v1/fail", fail),
    path("health", HEALTHS["/health"].django_view),
    path("health/db-down", HEALTHS["/health/db-down"].django_view),
    path("health/redis-down", HEALTHS["/health/redis-down"].django_view),
    path("debug/sdk", sdk_stats),
]

application = get_wsgi_application()
