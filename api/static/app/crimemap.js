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

  var HOT = {hot_99: "#b2182b", hot_95: "#ef8a62", hot_90: "#fddbc7", cold_99: "#2166ac",
             cold_95: "#67a9cf", cold_90: "#d1e5f0"};

  function hotspotStyle(props) {
    // Not-significant cells stay clickable (their z shows in the popup) but are not painted over the choropleth.
    var c = HOT[props["class"]];
    if (!c) { return {fill: true, fillColor: "#ffffff", fillOpacity: 0, stroke: false, weight: 0}; }
    var edge = props["class"].indexOf("hot") === 0 ? "#67001f" : "#053061";  // dark twin: visible when cells are tiny
    return {fill: true, fillColor: c, fillOpacity: 0.85, color: edge, weight: 1, opacity: 1};
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

  function status(map) {
    // "Map loaded." once every layer of the map has drawn its first set of tiles (or data).
    var st = map._crimemap || (map._crimemap = {pending: 0});
    return st;
  }

  function layerLoaded(map, name) {
    var st = status(map);
    if (st["done_" + name]) { return; }
    st["done_" + name] = true;
    st.pending -= 1;
    map.getContainer().setAttribute("data-loaded-" + name, "true");
    if (st.pending <= 0) {
      var el = document.getElementById("map-status");
      if (el) { el.textContent = "Map loaded."; el.setAttribute("data-loaded", "true"); }
    }
  }

  function overlays(map) {
    // one keyboard-usable layer switcher per map, filled by every layer the page adds
    if (!map._crimemapLayers) {
      map._crimemapLayers = L.control.layers(null, null, {collapsed: true, position: "topright"}).addTo(map);
    }
    return map._crimemapLayers;
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
    status(map).pending += 1;
    grid.on("load", function () { layerLoaded(map, opts.layer); });
    grid.on("tileload", function () {
      drawn += 1;
      map.getContainer().setAttribute("data-tiles", drawn);
      map.getContainer().setAttribute("data-tiles-" + opts.layer, drawn);
    });
    grid.addTo(map);
    if (opts.label) { overlays(map).addOverlay(grid, opts.label); }
    if (opts.attribution) { map.attributionControl.addAttribution(opts.attribution); }
    return grid;
  };

  function linePopup(p) {
    var rows = "";
    if (p.layer === "flows") {
      rows = "<tr><th scope='row'>From</th><td>" + esc(p.origin_name || p.origin) + "</td></tr>" +
             "<tr><th scope='row'>To</th><td>" + esc(p.destination_name || p.destination) + "</td></tr>";
    } else if (p.layer === "stations") {
      rows = "<tr><th scope='row'>Station</th><td>" + esc(p.name) + " (" + esc(p.crs_code) + ")</td></tr>";
    } else {
      rows = "<tr><th scope='row'>Area</th><td>" + esc(p.name || p.code) + "</td></tr>";
      if (p.cuckooed_addresses !== undefined) {
        rows += "<tr><th scope='row'>Cuckooed addresses</th><td>" + esc(p.cuckooed_addresses) + "</td></tr>";
      }
    }
    rows += "<tr><th scope='row'>Lines</th><td>" + esc(p.lines) + "</td></tr>";
    return (p.synthetic ? "<strong>SYNTHETIC demo data</strong>" : "<strong>County lines</strong>") +
           "<table>" + rows + "</table>";
  }

  window.crimemapCountyLines = function (map, opts) {
    // County-lines flows, destination areas and rail stations (analyst page; the API refuses anyone else).
    if (!map.getPane("countylines")) { map.createPane("countylines").style.zIndex = 460; }
    var st = status(map);
    st.pending += 1;
    var groups = {
      destinations: L.featureGroup(), flows: L.featureGroup(), stations: L.featureGroup()
    };
    var style = {
      destinations: function (f) {
        return {pane: "countylines", color: "#542788", weight: 2, dashArray: "6 4", fill: true, fillColor: "#b2abd2",
                fillOpacity: 0.15 + Math.min(f.properties.lines || 0, 10) * 0.03};
      },
      flows: function (f) {
        return {pane: "countylines", color: "#542788", opacity: 0.6, weight: 1 + Math.min(f.properties.lines || 1, 8) / 2};
      }
    };
    fetch(opts.url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
      .then(function (r) { if (!r.ok) { throw new Error("county lines: HTTP " + r.status); } return r.json(); })
      .then(function (fc) {
        var n = 0;
        fc.features.forEach(function (f) {
          var kind = f.properties.layer;
          if (!groups[kind] || !f.geometry) { return; }
          var layer = L.geoJSON(f, {
            style: style[kind],
            pointToLayer: function (_, latlng) {
              return L.circleMarker(latlng, {pane: "countylines", radius: 5 + Math.min(f.properties.lines || 0, 10) / 2,
                                             color: "#1a1a1a", weight: 2, fillColor: "#fdb863", fillOpacity: 1});
            }
          });
          layer.bindPopup(linePopup(f.properties));
          groups[kind].addLayer(layer);
          n += 1;
        });
        var labels = {destinations: "County-lines destination areas", flows: "County-lines flows",
                      stations: "Rail stations used by lines"};
        Object.keys(groups).forEach(function (k) {
          groups[k].addTo(map);
          overlays(map).addOverlay(groups[k], labels[k] + (fc.synthetic ? " (synthetic)" : ""));
        });
        groups.destinations.bringToBack();
        if (fc.synthetic) {
          var note = L.control({position: "bottomleft"});
          note.onAdd = function () {
            var d = L.DomUtil.create("div", "map-note");
            d.setAttribute("role", "note");
            d.textContent = "County lines: SYNTHETIC demo data, not real intelligence";
            return d;
          };
          note.addTo(map);
        }
        map.getContainer().setAttribute("data-lines", n);
        layerLoaded(map, "countylines");
      })
      .catch(function (err) {
        var el = document.getElementById("lines-status");
        if (el) { el.textContent = "County-lines layers unavailable: " + err.message; }
        layerLoaded(map, "countylines");
      });
  };
  // KDE contours: outlines only (line weight and dash tell them apart, so no colour is needed to read them).
  var KDE_STYLE = {
    0.01: {color: "#000000", weight: 3.5, dashArray: null},
    0.05: {color: "#000000", weight: 2.5, dashArray: "8 4"},
    0.1: {color: "#000000", weight: 2, dashArray: "2 4"}
  };
  // Emerging hot spots (ColorBrewer BrBG, colour-blind safe): strong = new, consecutive or intensifying;
  // middle = persistent; light = diminishing, sporadic, oscillating or historical.
  var EMERGING = {hot: ["#8c510a", "#d8b365", "#f6e8c3"], cold: ["#01665e", "#5ab4ac", "#c7eae5"]};
  var EMERGING_RANK = {"new": 0, "consecutive": 0, "intensifying": 0, "persistent": 1, "diminishing": 2,
                       "sporadic": 2, "oscillating": 2, "historical": 2};

  function emergingFill(category) {
    var m = /^(\w+) (hot|cold) spot$/.exec(category || "");
    if (!m || EMERGING_RANK[m[1]] === undefined) { return null; }
    return EMERGING[m[2]][EMERGING_RANK[m[1]]];
  }

  function rowsHtml(pairs) {
    return "<table>" + pairs.filter(function (kv) { return kv[1] !== undefined && kv[1] !== null; })
      .map(function (kv) {
        var v = (typeof kv[1] === "number" && !Number.isInteger(kv[1])) ? kv[1].toFixed(3) : kv[1];
        return "<tr><th scope='row'>" + kv[0] + "</th><td>" + esc(v) + "</td></tr>";
      })
      .join("") + "</table>";
  }

  function say(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function getGeoJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
      .then(function (r) {
        if (r.ok) { return r.json(); }
        return r.json().then(function (b) { throw new Error(b.error || ("HTTP " + r.status)); },
                             function () { throw new Error("HTTP " + r.status); });
      });
  }

  function kdeTable(features) {
    var body = document.getElementById("kde-rows");
    if (!body) { return; }
    body.innerHTML = features.map(function (f) {
      var p = f.properties;
      return "<tr><td>" + esc(p.contour) + "</td><td class='num'>" + esc(p.density_threshold.toFixed(1)) +
             "</td></tr>";
    }).join("");
  }

  window.crimemapHotspotOverlays = function (map, opts) {
    // KDE contours and emerging hot-spot classes from the analyst API (GeoJSON), each a switchable layer.
    if (!map.getPane("kde")) { map.createPane("kde").style.zIndex = 455; }
    if (!map.getPane("emerging")) { map.createPane("emerging").style.zIndex = 440; }
    var st = status(map);
    st.pending += 2;
    getGeoJSON(opts.kde_url).then(function (fc) {
      var layer = L.geoJSON(fc, {
        pane: "kde",
        style: function (f) {
          var s = KDE_STYLE[f.properties.area_share] || KDE_STYLE[0.1];
          return {pane: "kde", color: s.color, weight: s.weight, dashArray: s.dashArray, fill: false, opacity: 1};
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindPopup("<strong>KDE contour</strong>" + rowsHtml([
            ["Encloses", p.contour], ["Density at the edge (offences per km²)", p.density_threshold.toFixed(1)],
            ["Offences used", fc.metadata && fc.metadata.offences],
            ["Bandwidth (m)", fc.metadata && fc.metadata.bandwidth_m]]));
        }
      }).addTo(map);
      overlays(map).addOverlay(layer, "KDE contours");
      kdeTable(fc.features);
      map.getContainer().setAttribute("data-kde", fc.features.length);
      say("kde-status", fc.features.length ? "" : "KDE contours: no located offences for these filters.");
      layerLoaded(map, "kde");
    }).catch(function (err) {
      say("kde-status", "KDE contours unavailable: " + err.message);
      layerLoaded(map, "kde");
    });
    if (!opts.emerging_url) {
      say("emerging-status", opts.emerging_note || "Emerging hot spots are not available for these filters.");
      map.getContainer().setAttribute("data-emerging", 0);
      layerLoaded(map, "emerging");
      return;
    }
    getGeoJSON(opts.emerging_url).then(function (fc) {
      var shown = fc.features.filter(function (f) { return emergingFill(f.properties.category); });
      var layer = L.geoJSON({type: "FeatureCollection", features: shown}, {
        pane: "emerging",
        style: function (f) {
          return {pane: "emerging", fill: true, fillColor: emergingFill(f.properties.category), fillOpacity: 0.8,
                  color: "#333333", weight: 0.5};
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindPopup("<strong>" + esc(p.name || p.code) + "</strong>" + rowsHtml([
            ["Category", p.category], ["Offences", p.count], ["Gi* z (whole period)", p.z],
            ["Mann-Kendall trend z", p.trend_z], ["Trend p", p.trend_p], ["Months hot", p.months_hot],
            ["Months cold", p.months_cold]]));
        }
      }).addTo(map);
      overlays(map).addOverlay(layer, "Emerging hot spots");
      map.getContainer().setAttribute("data-emerging", shown.length);
      say("emerging-status", shown.length ? "" : "Emerging hot spots: no cell shows a pattern for these filters.");
      layerLoaded(map, "emerging");
    }).catch(function (err) {
      say("emerging-status", "Emerging hot spots unavailable: " + err.message);
      layerLoaded(map, "emerging");
    });
  };
})();
