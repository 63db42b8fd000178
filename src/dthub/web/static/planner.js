// Trip planner: click the map for the origin, then the destination; the query goes to the hub's planner
// (POST /api/v1/transit/plan, the same route as the API) and each itinerary is listed with its legs, and
// its fare when the planner gives one; the chosen itinerary is drawn on the map.
"use strict";
(function () {
  var COLOURS = { WALK: "#5b6b7c", BICYCLE: "#1f7a3f", BIKE: "#1f7a3f" };

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  function money(fare) {
    if (fare === null || fare === undefined) { return null; }
    if (typeof fare === "number") { return fare.toFixed(2); }
    if (typeof fare === "string") { return fare; }
    if (fare.amount !== undefined) { return Number(fare.amount).toFixed(2) + (fare.currency ? " " + fare.currency : ""); }
    if (fare.cents !== undefined) {
      // an OpenTripPlanner Money: {cents, currency: {currencyCode, symbol, ...}}
      var currency = fare.currency || {};
      var code = typeof currency === "string" ? currency : (currency.currencyCode || currency.currency || currency.code || "");
      return (fare.cents / 100).toFixed(2) + (code ? " " + code : "");
    }
    if (fare.fare && fare.fare.regular) { return money(fare.fare.regular); }
    if (fare.regular) { return money(fare.regular); }
    return JSON.stringify(fare);
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("plan-form");
    var holder = document.getElementById("map");
    if (!form || !holder) { return; }
    var words = JSON.parse(form.dataset.words);
    var picks = [];
    var status = document.getElementById("plan-status");
    var list = document.getElementById("itineraries");
    var pickLine = document.getElementById("plan-picks");

    function mode(name) { return words[name] || name; }

    function showPicks(map) {
      map.getSource("picks").setData({ type: "FeatureCollection", features: picks.map(function (p, i) {
        return { type: "Feature", geometry: { type: "Point", coordinates: [p.lng, p.lat] },
                 properties: { colour: i === 0 ? "#1f7a3f" : "#b3261e" } };
      }) });
      pickLine.textContent = picks.map(function (p, i) {
        return (i === 0 ? words.origin : words.destination) + " " + p.lat.toFixed(5) + ", " + p.lng.toFixed(5);
      }).join(" → ");
      form.setAttribute("data-picks", String(picks.length));
    }

    function draw(map, itinerary) {
      var route = { type: "FeatureCollection", features: itinerary.legs.map(function (leg) {
        return { type: "Feature", geometry: leg.legGeometry, properties: { colour: COLOURS[leg.mode] || "#0b5cad" } };
      }) };
      map.getSource("route").setData(route);
      window.dthubMaps.fit(map, [route]);
    }

    function render(map, plan) {
      list.replaceChildren();
      var itineraries = plan.plan.itineraries;
      status.textContent = itineraries.length ? "" : words.none;
      itineraries.forEach(function (it, index) {
        var item = el("li", null, "itinerary");
        item.setAttribute("data-itinerary", String(index));
        var head = el("div", clock(it.startTime) + " → " + clock(it.endTime) + " · " + Math.round(it.duration / 60) + " " +
          words.minutes + " · " + words.transfers + " " + it.transfers + " · " + words.walk + " " + Math.round(it.walkTime / 60) + " " + words.minutes, "head");
        var fare = money(it.fare);
        if (fare !== null) { head.appendChild(el("span", " · " + words.fare + " " + fare, "fare")); }
        item.appendChild(head);
        var legs = el("ul", null, "legs");
        it.legs.forEach(function (leg) {
          var text = clock(leg.startTime) + "–" + clock(leg.endTime) + " " + mode(leg.mode) +
            (leg.route ? " " + leg.route : "") + (leg.headsign ? " (" + leg.headsign + ")" : "") + ": " +
            (leg.from.name === "Origin" ? words.origin : leg.from.name) + " → " + (leg.to.name === "Destination" ? words.destination : leg.to.name);
          var line = el("li", text, "leg");
          line.setAttribute("data-mode", leg.mode);
          var legFare = money(leg.fare);
          if (legFare !== null) { line.appendChild(el("span", " · " + words.fare + " " + legFare, "fare")); }
          legs.appendChild(line);
        });
        item.appendChild(legs);
        item.addEventListener("click", function () { draw(map, it); });
        list.appendChild(item);
      });
      if (itineraries.length) { draw(map, itineraries[0]); }
      form.setAttribute("data-planned", String(itineraries.length));
    }

    function reload() {
      var feed = document.getElementById("plan-feed").value;
      var bikes = document.getElementById("plan-bikeshare").value;
      window.location.search = "?feed=" + encodeURIComponent(feed) + (bikes ? "&bikeshare=" + encodeURIComponent(bikes) : "");
    }
    document.getElementById("plan-feed").addEventListener("change", reload);
    document.getElementById("plan-bikeshare").addEventListener("change", reload);

    holder.addEventListener("dthub:map", function (ready) {
      var map = ready.detail;
      map.on("click", function (event) {
        if (picks.length === 2) { picks = []; }
        picks.push(event.lngLat);
        showPicks(map);
      });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (picks.length < 2) { status.textContent = words.pick; return; }
        var data = new FormData(form);
        var body = {
          from_lat: picks[0].lat, from_lon: picks[0].lng, to_lat: picks[1].lat, to_lon: picks[1].lng,
          date: data.get("date"), time: data.get("time"), feeds: [form.dataset.feed],
          walk_radius_m: Number(data.get("walk_radius_m") || 800), max_transfers: Number(data.get("max_transfers") || 3)
        };
        if (data.get("bikeshare")) { body.bikeshare = data.get("bikeshare"); }
        // progress while the plan runs: the seconds so far (a timetable's first use loads it)
        var started = Date.now();
        var tick = function () {
          var seconds = Math.round((Date.now() - started) / 1000);
          status.textContent = words.planning + (seconds ? " " + words.elapsed.replace("{s}", seconds) : "");
        };
        tick();
        var ticking = window.setInterval(tick, 1000);
        form.setAttribute("aria-busy", "true");
        var done = function () { window.clearInterval(ticking); form.removeAttribute("aria-busy"); };
        list.replaceChildren();
        fetch("/api/v1/transit/plan", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) })
          .then(function (answer) {
            return answer.json().then(function (json) {
              if (!answer.ok) { throw new Error(words.failed + " " + (json.detail || answer.status)); }
              return json;
            });
          })
          .then(function (plan) { done(); render(map, plan); })
          .catch(function (error) { done(); status.textContent = String(error.message || error); });
      });
      form.setAttribute("data-ready", "1");
    });
  });
})();
