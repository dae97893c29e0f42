import 'uplot/dist/uPlot.min.css';
import './style.css';

document.getElementById('app').textContent = 'Tributary dashboard';
