// Progressive enhancement: a button that fills the location from the phone's geolocation.
(function () {
  var button = document.getElementById("locate");
  if (!button || !navigator.geolocation) { return; }
  var said = document.getElementById("located");
  button.hidden = false;
  button.addEventListener("click", function () {
    said.textContent = "正在获取位置…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
      document.getElementById("lng").value = pos.coords.longitude.toFixed(6);
      said.textContent = "已获取当前位置。";
    }, function () {
      said.textContent = "未能获取位置，可以只填写地点。";
    }, { enableHighAccuracy: true, timeout: 10000 });
  });
})();

// The photo picker says how many photos are chosen (the native input, drawn as a button, cannot).
(function () {
  var input = document.getElementById("photos");
  var said = document.getElementById("chosen");
  if (!input || !said) { return; }
  input.addEventListener("change", function () {
    var n = input.files ? input.files.length : 0;
    said.textContent = n ? "已选择" + n + "张照片" : "";
  });
})();
