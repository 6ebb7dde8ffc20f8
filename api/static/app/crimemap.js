/* crimemap pages: crime tiles (Leaflet.VectorGrid), legend and attribution on a Folium map.
   Colours: viridis (colour-blind safe); suppressed = grey hatch-free "<5"; no data = white, dashed outline. */
(function () {
  "use strict";
  var VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  var SUPPRESSED = "#bdbdbd";
  var NODATA = "#ffffff";

  function styleFor(props) {
    if (props.no_data) {
      return {fill: true, fillColor: NODATA, fillOpacity: 0.6, color: "#555555", weight: 1, dashArray: "4 3"};
    }
    if (props.suppressed) {
      return {fill: true, fillColor: SUPPRESSED, fillOpacity: 0.7, color: "#555555", weight: 0.5};
    }
    var c = (props["class"] === undefined) ? null : VIRIDIS[props["class"]];
    if (!c) {
      return {fill: true, fillColor: NODATA, fillOpacity: 0.2, color: "#777777", weight: 0.5};
    }
    return {fill: true, fillColor: c, fillOpacity: 0.65, color: "#333333", weight: 0.5};
  }

  function hotspotStyle(props) {
    var cls = props["class"] || "not_significant";
    var colours = {hot_99: "#b2182b", hot_95: "#ef8a62", hot_90: "#fddbc7", cold_99: "#2166ac",
                   cold_95: "#67a9cf", cold_90: "#d1e5f0", not_significant: "#f7f7f7"};
    return {fill: true, fillColor: colours[cls] || "#f7f7f7", fillOpacity: cls === "not_significant" ? 0.1 : 0.75,
            color: "#444444", weight: 0.4};
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch];
    });
  }

  function popupHtml(p) {
    var count = p.no_data ? "no data" : (p.suppressed ? "&lt;5 (suppressed)" : (p.count === undefined ? "–" : p.count));
    var rows = "<tr><th scope='row'>Offences</th><td>" + count + "</td></tr>";
    if (p.rate_per_1000 !== undefined) rows += "<tr><th scope='row'>Per 1,000 residents</th><td>" + p.rate_per_1000 + "</td></tr>";
    if (p.z !== undefined) rows += "<tr><th scope='row'>Gi* z</th><td>" + p.z + "</td></tr>";
    if (p["class"] !== undefined && typeof p["class"] === "string") rows += "<tr><th scope='row'>Class</th><td>" + esc(p["class"]) + "</td></tr>";
    return "<strong>" + esc(p.name || p.code) + "</strong><br><small>" + esc(p.code) + "</small><table>" + rows + "</table>";
  }

  window.crimemapTiles = function (map, opts) {
    var layers = {};
    var style = opts.layer === "hotspots" ? hotspotStyle : styleFor;
    layers[opts.layer] = function (props) { return style(props); };
    var pane = "overlayPane";
    if (opts.pane) {  // a pane of its own draws above the choropleth
      if (!map.getPane(opts.pane)) { map.createPane(opts.pane).style.zIndex = 450; }
      pane = opts.pane;
    }
    var grid = L.vectorGrid.protobuf(opts.url, {
      pane: pane,
      vectorTileLayerStyles: layers, interactive: true, maxNativeZoom: 18,
      getFeatureId: function (f) { return f.properties.code; },
      fetchOptions: {credentials: "same-origin"}
    });
    grid.on("click", function (e) {
      L.popup().setLatLng(e.latlng).setContent(popupHtml(e.layer.properties)).openOn(map);
    });
    var drawn = 0;
    grid.on("load", function () {
      var el = document.getElementById("map-status");
      if (el) { el.textContent = "Map loaded."; el.setAttribute("data-loaded", "true"); }
    });
    grid.on("tileload", function (e) { drawn += 1; map.getContainer().setAttribute("data-tiles", drawn); });
    grid.addTo(map);
    if (opts.attribution) { map.attributionControl.addAttribution(opts.attribution); }
    return grid;
  };
})();
