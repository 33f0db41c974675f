// The plotly.js traces the dashboard draws, and no others (scripts/build_plotly_bundle.sh builds this).
// scatter comes with the core. scatter3d and surface draw the Quantum lab's optional 3-D Bloch sphere; running
// their modules (WebGL, gl-plot3d) cost every new tab ~0.17 s of its main thread before its first figure, so they
// are registered only when a figure that has one of them is first drawn (Streamlit draws with Plotly.react).
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/histogram'),
]);

var THREE_D_TYPES = { scatter3d: true, surface: true };
var threeDRegistered = false;

function registerThreeD(traces) {
    if (threeDRegistered || !Array.isArray(traces)) return;
    var wanted = traces.some(function (trace) {
        return trace && THREE_D_TYPES[trace.type];
    });
    if (!wanted) return;
    Plotly.register([
        require('plotly.js/lib/scatter3d'),
        require('plotly.js/lib/surface'),
    ]);
    threeDRegistered = true;
}

// Streamlit first draws each figure hidden, before it knows the column's width, and draws it again at that
// width straight after: the first draw (most of a new tab's plotting time, cold) is never seen. Draw only the empty
// frame then (it sets up the graph div and its events); the figure itself is drawn once, at its width.
function unseenFirstDraw(gd, figure) {
    return gd && gd.style && gd.style.visibility === 'hidden' && figure && !Array.isArray(figure) &&
        figure.layout && figure.layout.width === undefined && !gd._fullLayout;
}

// newPlot and react take (gd, data, layout, config) or (gd, {data, layout, config, frames}).
['newPlot', 'react'].forEach(function (name) {
    var draw = Plotly[name];
    Plotly[name] = function (gd, data) {
        if (unseenFirstDraw(gd, data)) {
            return draw.call(this, gd, { data: [], layout: { height: data.layout.height }, config: data.config });
        }
        registerThreeD(Array.isArray(data) ? data : data && data.data);
        return draw.apply(this, arguments);
    };
});

module.exports = Plotly;
