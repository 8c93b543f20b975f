// Progressive enhancement only: every page works without this file.
// While an upload travels and is checked, say so and keep a second click from sending it twice.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.classList || !form.classList.contains("upload")) return;
  if (form.dataset.sending) { event.preventDefault(); return; }
  form.dataset.sending = "1";
  var note = form.querySelector(".busy");
  if (note) note.textContent = "Đang gửi và kiểm tra tệp, xin chờ trong giây lát…";
});
