// Maps of the console: MapLibre GL over a plain style defined here (no tiles, no CDN, works offline),
// drawing the hub's own GeoJSON: segments coloured by level, live vehicles (polled), open alarms, stops.
// The element #map names its data: data-segments, data-vehicles (+ data-poll seconds), data-alarms,
// data-stops, data-bikes. Each poll of vehicles fires "dthub:vehicles" on the element with the FeatureCollection.
"use strict";
(function () {
  var STYLE = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }]
  };
  var EMPTY = { type: "FeatureCollection", features: [] };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (answer) {
      if (!answer.ok) {
        throw new Error(url + ": HTTP " + answer.status);
      }
      return answer.json();
    });
  }

  function extend(bounds, coordinates) {
    if (typeof coordinates[0] === "number") {
      bounds.push(coordinates);
      return;
    }
    coordinates.forEach(function (each) { extend(bounds, each); });
  }

  function fit(map, collections) {
    var points = [];
    collections.forEach(function (collection) {
      (collection.features || []).forEach(function (feature) {
        if (feature.geometry) {
          extend(points, feature.geometry.coordinates);
        }
      });
    });
    if (!points.length) {
      return false;
    }
    var west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
    points.forEach(function (p) {
      west = Math.min(west, p[0]); east = Math.max(east, p[0]);
      south = Math.min(south, p[1]); north = Math.max(north, p[1]);
    });
    if (east - west < 0.01) { west -= 0.01; east += 0.01; }
    if (north - south < 0.01) { south -= 0.01; north += 0.01; }
    map.fitBounds([[west, south], [east, north]], { padding: 32, animate: false, maxZoom: 15 });
    map.dthubBounds = [[west, south], [east, north]];
    return true;
  }

  function addLayers(map) {
    ["segments", "stops", "bikes", "track", "route", "alarms", "vehicles", "playhead", "picks"].forEach(function (name) {
      map.addSource(name, { type: "geojson", data: EMPTY });
    });
    map.addLayer({ id: "segments", type: "line", source: "segments",
      layout: { "line-cap": "round", "line-join": "round" },
      // a directed segment is drawn on the right of its direction, so that both directions of a road show
      paint: { "line-color": ["get", "colour"], "line-width": ["match", ["get", "road_class"], "expressway", 4, "arterial", 3, 2],
               "line-offset": ["match", ["get", "road_class"], "expressway", 2.5, "arterial", 2, 1.5] } });
    map.addLayer({ id: "stops", type: "circle", source: "stops",
      paint: { "circle-radius": 3, "circle-color": "#5b6b7c", "circle-opacity": 0.7 } });
    map.addLayer({ id: "bikes", type: "circle", source: "bikes",
      paint: { "circle-radius": 4, "circle-color": "#1f7a3f", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "route", type: "line", source: "route",
      paint: { "line-color": ["get", "colour"], "line-width": 5, "line-opacity": 0.85 } });
    map.addLayer({ id: "track", type: "line", source: "track", paint: { "line-color": "#7b3fa0", "line-width": 3 } });
    map.addLayer({ id: "alarms", type: "circle", source: "alarms",
      paint: { "circle-radius": 9, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#d0312d", "circle-stroke-width": 3 } });
    map.addLayer({ id: "vehicles", type: "circle", source: "vehicles",
      paint: { "circle-radius": 5, "circle-color": ["case", ["get", "online"], "#0b5cad", "#9aa5b1"],
               "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "playhead", type: "circle", source: "playhead",
      paint: { "circle-radius": 8, "circle-color": "#7b3fa0", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.addLayer({ id: "picks", type: "circle", source: "picks",
      paint: { "circle-radius": 9, "circle-color": ["get", "colour"], "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
  }

  function status(holder, text) {
    var line = holder.parentNode.querySelector(".map-status");
    if (!line) {
      line = document.createElement("p");
      line.className = "note map-status";
      holder.parentNode.insertBefore(line, holder.nextSibling);
    }
    line.textContent = text;
  }

  function start(holder) {
    var map = new maplibregl.Map({
      container: holder, style: STYLE, center: [117.2, 39.1], zoom: 9,
      attributionControl: false, dragRotate: false, pitchWithRotate: false
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    window.dthubMap = map;
    map.on("load", function () {
      addLayers(map);
      holder.dispatchEvent(new CustomEvent("dthub:map", { detail: map }));
      var names = ["segments", "alarms", "vehicles", "stops", "bikes"].filter(function (name) { return holder.dataset[name]; });
      var loads = names.map(function (name) {
        return getJSON(holder.dataset[name]).then(function (data) {
          map.getSource(name).setData(data);
          if (name === "vehicles") {
            holder.dispatchEvent(new CustomEvent("dthub:vehicles", { detail: data }));
          }
          return data;
        });
      });
      Promise.all(loads).then(function (collections) {
        if (!fit(map, collections) && holder.dataset.empty) {
          status(holder, holder.dataset.empty);
        }
        holder.setAttribute("data-ready", "1");
      }).catch(function (error) { status(holder, String(error.message || error)); });
      var poll = Number(holder.dataset.poll || 0);
      if (holder.dataset.vehicles && poll > 0) {
        var polls = 0;
        window.setInterval(function () {
          getJSON(holder.dataset.vehicles).then(function (data) {
            map.getSource("vehicles").setData(data);
            polls += 1;
            holder.setAttribute("data-polls", String(polls));
            holder.dispatchEvent(new CustomEvent("dthub:vehicles", { detail: data }));
          }).catch(function (error) { status(holder, String(error.message || error)); });
        }, poll * 1000);
      }
    });
    // a map the person has not moved yet keeps showing all of its data when the window changes size
    var moved = false;
    ["dragstart", "zoomstart"].forEach(function (name) {
      map.on(name, function (event) { if (event.originalEvent) { moved = true; } });
    });
    window.addEventListener("resize", function () {
      map.resize();
      if (!moved && map.dthubBounds) {
        map.fitBounds(map.dthubBounds, { padding: 32, animate: false, maxZoom: 15 });
      }
    });
    return map;
  }

  window.dthubMaps = { getJSON: getJSON, fit: fit, EMPTY: EMPTY };
  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("map");
    if (holder && typeof maplibregl !== "undefined") {
      start(holder);
    }
  });
})();
