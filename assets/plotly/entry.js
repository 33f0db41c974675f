// The plotly.js traces the dashboard draws, and no others (scripts/build_plotly_bundle.sh builds this).
// scatter comes with the core; scatter3d and surface draw the Quantum lab's optional 3-D Bloch sphere.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/histogram'),
    require('plotly.js/lib/scatter3d'),
    require('plotly.js/lib/surface'),
]);

module.exports = Plotly;
