// The bundle check page: a chosen file is read into the text box, so what is checked is what the person sees.
(function () {
  "use strict";
  var file = document.getElementById("file");
  var text = document.getElementById("bundle");
  if (!file || !text || !window.FileReader) { return; }
  file.addEventListener("change", function () {
    if (!file.files || !file.files.length) { return; }
    var reader = new FileReader();
    reader.onload = function () {
      text.value = String(reader.result).replace(/^\uFEFF/, "");
      file.value = "";  // the text box now holds it: send that, not the file a second time
      text.focus();
    };
    reader.readAsText(file.files[0], "utf-8");
  });
})();
