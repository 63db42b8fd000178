// Vehicle supervision: the list of live positions follows each poll of the map; a vehicle's track of the
// day plays back on the map with a slider (the track as the reader may see it: coarse below their level).
"use strict";
(function () {
  function beijing(iso) {
    var at = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(at.getUTCHours()) + ":" +
      two(at.getUTCMinutes()) + ":" + two(at.getUTCSeconds());
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text;
    node.className = className;
    return node;
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function render(table, data, words, onTrack) {
    var body = table.querySelector("tbody");
    var rows = document.createDocumentFragment();
    data.features.forEach(function (feature) {
      var p = feature.properties;
      var row = document.createElement("tr");
      row.setAttribute("data-plate", p.plate || "");
      var first = cell(row, p.plate || "—");
      first.appendChild(el("span", p.enterprise || "—", "sub"));
      cell(row, Math.round(p.speed_kmh), "num");
      var c = feature.geometry ? feature.geometry.coordinates : null;
      cell(row, c ? c[0].toFixed(4) + ", " + c[1].toFixed(4) : "—", "pos");
      cell(row, beijing(p.reported_at));
      cell(row, p.online ? words.online : words.offline);
      var last = cell(row, "");
      if (table.dataset.platesPlain === "1" && p.plate) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = words.track;
        button.setAttribute("data-track", p.plate);
        button.addEventListener("click", function () { onTrack(p.plate); });
        last.appendChild(button);
      }
      rows.appendChild(row);
    });
    body.replaceChildren(rows);
    var polled = document.getElementById("polled");
    if (polled && data.polled_at) { polled.textContent = beijing(data.polled_at); }
  }

  function playback(map, track) {
    var panel = document.getElementById("playback");
    var slider = document.getElementById("playback-slider");
    var play = document.getElementById("playback-play");
    var label = document.getElementById("playback-at");
    var points = track.points;
    document.getElementById("playback-plate").textContent = track.plate;
    document.getElementById("playback-coarse").hidden = !track.coarse;
    map.getSource("track").setData({ type: "Feature", properties: {},
      geometry: { type: "LineString", coordinates: points.map(function (p) { return [p.lon, p.lat]; }) } });
    window.dthubMaps.fit(map, [{ features: [{ geometry: { coordinates: points.map(function (p) { return [p.lon, p.lat]; }) } }] }]);
    slider.max = String(points.length - 1);
    slider.value = "0";
    function show(index) {
      var p = points[index];
      map.getSource("playhead").setData({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [p.lon, p.lat] } });
      label.textContent = beijing(p.at) + " · " + Math.round(p.speed_kmh) + " km/h (" + (index + 1) + "/" + points.length + ")";
      panel.setAttribute("data-index", String(index));
    }
    slider.oninput = function () { show(Number(slider.value)); };
    var timer = null;
    play.onclick = function () {
      if (timer) { window.clearInterval(timer); timer = null; return; }
      timer = window.setInterval(function () {
        var next = Number(slider.value) + 1;
        if (next >= points.length) { window.clearInterval(timer); timer = null; return; }
        slider.value = String(next);
        show(next);
      }, 250);
    };
    panel.hidden = false;
    show(0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("map");
    var table = document.getElementById("fleet");
    if (!holder || !table) { return; }
    var words = JSON.parse(table.dataset.words);
    var message = document.getElementById("track-message");
    function onTrack(plate) {
      var url = "/console/vehicles/track.json?plate=" + encodeURIComponent(plate) + "&day=" + table.dataset.day;
      window.dthubMaps.getJSON(url).then(function (track) {
        if (track.refused || !track.points.length) {
          message.textContent = track.refused ? message.dataset.refused : message.dataset.empty;
          message.hidden = false;
          return;
        }
        message.hidden = true;
        playback(window.dthubMap, track);
      }).catch(function (error) { message.textContent = String(error.message || error); message.hidden = false; });
    }
    holder.addEventListener("dthub:vehicles", function (event) { render(table, event.detail, words, onTrack); });
    var initial = document.getElementById("live-data");
    if (initial) { render(table, JSON.parse(initial.textContent), words, onTrack); }
  });
})();
