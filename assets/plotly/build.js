// esbuild with plotly.js's own settings (its esbuild-config.js), minified, into plotly-jetlab.min.js.
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

esbuild
    .build({
        entryPoints: [process.argv[2]],
        outfile: process.argv[3],
        format: 'iife',
        globalName: 'Plotly',
        bundle: true,
        minify: true,
        legalComments: 'eof',
        plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
        alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2016',
        logLevel: 'warning',
    })
    .catch(() => process.exit(1));
