from chronoflow.chronos import service


def test_chronos_list_shows_one_line_per_chrono(app, make_chrono):
    make_chrono(name="Morning report", schedule="dias úteis às 9", url="https://example.com/r")
    paused = make_chrono(name="Old one")
    service.pause(paused)
    result = app.test_cli_runner().invoke(args=["chronos", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "active" in lines[0] and "0 9 * * 1-5" in lines[0] and "Morning report  ->  https://example.com/r" in lines[0]
    assert "paused" in lines[1] and "Old one" in lines[1]
    assert lines[-1] == "2 chrono(s)"
