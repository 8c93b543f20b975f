@echo off
rem Windows Task Scheduler entry point: runs one baocao tick with the venv next to this folder.
rem   schtasks /Create /TN "baocao run-due" /SC MINUTE /MO 15 /TR "D:\baocao\scripts\run-due.cmd"
cd /d "%~dp0.."
".venv\Scripts\python.exe" scripts\run_due.py "%~dp0..\config.toml" >> workbooks\logs\run-due.txt 2>&1
