// Starts Swagger UI on /api/v1/docs. A file rather than an inline script so the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // Deep links put a link inside each operation's toggle button: nested controls that keyboard
    // and screen-reader users cannot tell apart, so they are off.
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    // The validator badge would send the spec's URL to an outside service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
